"""What tests share: `fakes` (clients handed to the code in unit tests) and `services`
(helpers over the real services for integration tests). Import as `tests.support.fakes`."""
