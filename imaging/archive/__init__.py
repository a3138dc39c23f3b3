"""Outside archives: one client per archive (today the central PACS), with retryable and
permanent errors, and what the hub does with the central one: forwarding every instance,
priors (C-FIND), retrieving a prior (C-GET) and deleting expired copies."""
