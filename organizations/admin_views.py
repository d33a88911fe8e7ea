"""Organization Settings pages (General, Members, Stacks tabs). Filled in by the Foundation work."""


def get_urls(site):
    return []
