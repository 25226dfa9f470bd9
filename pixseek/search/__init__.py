"""Search: query text parsing, filters from a request, and the search itself (one vector
from weighted terms, like/dislike refinement, date sorts)."""
