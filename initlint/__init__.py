"""initlint: catch the bugs of empty-weight initialization."""
