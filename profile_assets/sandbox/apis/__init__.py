"""Simulated vendor APIs (HubSpot CRM, Zendesk, GA4 Data API, a Clearbit-like enrichment) served
over real HTTP on 127.0.0.1 from a sandbox world; start them with
`profile_assets.sandbox.apis.server.start_sandbox_apis`."""
