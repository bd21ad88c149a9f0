"""Development tooling: proto generation, the local stack, the demo."""
