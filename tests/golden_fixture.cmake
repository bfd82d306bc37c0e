# Included by CTest after the suites are registered: the golden suite requires the
# reference fixture.
set_tests_properties(MaeGolden PROPERTIES FIXTURES_REQUIRED golden_mae)
