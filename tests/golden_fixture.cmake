# Included by CTest after the suites are registered: the suites that read a Python
# fixture's output require it.
set_tests_properties(MaeGolden PROPERTIES FIXTURES_REQUIRED golden_mae)
set_tests_properties(PseudolabelReference PseudolabelProgram PseudolabelProgramErrors ExportSegmenter
                     PROPERTIES
                     FIXTURES_REQUIRED pseudolabel_models)
