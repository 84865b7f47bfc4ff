"""TMF641 Service Ordering: orders, their life-cycle, and the orchestrator that delivers them on the network."""
