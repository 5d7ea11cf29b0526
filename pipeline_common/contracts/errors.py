class ContractError(ValueError):
    """A record does not match its contract; the message says what was expected."""
