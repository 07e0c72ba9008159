"""Deployment: provisioning of startup kits and running a site from its kit."""
