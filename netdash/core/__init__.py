"""Pure data and decisions: the model, addresses, policy, hints and the assessment."""
