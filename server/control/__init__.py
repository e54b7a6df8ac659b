"""The control plane inside the gateway: follows the registry's routing state and swaps the routing table."""
