"""Who may do what: the access decision, API tokens, staff accounts."""

from haechi.access.decision import Actor, CollectionState, CollectionView, Decision, Reason, decide

__all__ = ["Actor", "CollectionState", "CollectionView", "Decision", "Reason", "decide"]
