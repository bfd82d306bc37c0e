# Included by CTest after test discovery: golden tests require the reference fixture.
set_tests_properties(MaeGolden.LossAndEncoderMatchPyTorch PROPERTIES FIXTURES_REQUIRED golden_mae)
