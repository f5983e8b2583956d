"""Data-subject rights: requests (access, correction, deletion…) and complaints."""
