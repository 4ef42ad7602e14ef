"""link-checker: checks users' links without becoming a way into the cluster, and
reports each verdict on the event bus."""
