"""TMF633 Service Catalog: service specifications, the rules orders follow, and how services are activated."""
