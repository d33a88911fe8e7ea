"""Organization Settings: one module per tab (general, members, stacks, audit),
the tab shell they render in (shell) and their URLs (urls)."""
