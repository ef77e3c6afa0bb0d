"""The flow model: YAML flows and content read with positions, checked (`lotse check`),
and drawn. The lowest layer; it knows nothing of conversations."""
