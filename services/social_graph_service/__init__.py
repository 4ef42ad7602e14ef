"""social-graph-manager: who follows whom."""
