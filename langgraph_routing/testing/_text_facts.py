"""What a plausible model reads in a request: numbers, an arithmetic expression, quoted strings,
proper nouns, the subject phrase, which fields the text affirms, whether it is ambiguous.

Rules (deterministic, no randomness), used by :func:`~._schema_fill.fill_schema`:

- **Booleans**: a field is true when the request affirms its subject and false otherwise. The
  subject is the field name without its verb prefix (``need_clarification`` -> clarification,
  ``is_urgent`` -> urgent, ``has_attachments`` -> attachments); a word of it (or its stem)
  must occur in the latest user text, not negated by no/not/don't/without/never just before.
  Fields about clarification or ambiguity are also true when the request is ambiguous: it says
  so ("not sure", "unclear", "whatever", "I don't know"...), or it has no content word at all
  ("Can you help me with this?"). ``need_clarification`` is thus false for "How large is
  Kyoto?" and for "I need the weather in Paris".
- **Enums**: the member the conversation mentions (latest user text first, then earlier user
  messages, newest first; ``web_search`` also matches "web search"), the earliest mention in
  a text winning; else the schema's default; else the first member.
- **Strings** by field name: expression-like names (expression, formula, calculation...) take
  the arithmetic expression; a quoted string is taken first by any other string field;
  city/country/place/location/name/person/company-like names take the next proper noun
  phrase; topic/subject/query/keyword/search-like names take the subject phrase (the request
  without its question or instruction words, cut at the first clause boundary);
  question/request/prompt/task-like names take the whole text.
- **Numbers** take the numbers of the text in order (a year-like field prefers a year).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["TextFacts", "singular"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[A-Za-z_])")
_EXPRESSION = re.compile(
    r"[(\-]*\s*\d+(?:\.\d+)?\s*\)*(?:\s*(?:\*\*|[-+*/%^x×÷])\s*[(\-]*\s*\d+(?:\.\d+)?\s*\)*)+"
)
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']{2,})'|“([^”]+)”")
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z'-]+(?:\s+(?:of\s+|de\s+)?[A-Z][a-zA-Z'-]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")
_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_CLAUSE_END = re.compile(
    r"\s*(?:[;:!?]|\.(?!\d)|,\s(?:and|then|so|but|please)\b|\s(?:then|so that|because)\s"
    r"|\s(?:and|,)\s(?=(?:write|give|tell|summari[sz]e|list|explain|make|create|send|show|report"
    r"|draft|produce|return|provide|compare|then)\b))"
)
_COMMON_WORDS = """
    what which who whom whose when where why how is are was were be been the a an of in on at to
    for and or with about from by many much does do did can could would should will shall may
    might must please tell me give find show list explain ask people live i you we they it its
    this that these those my your our their there here get got let us need want like know look
    up search research write make some any all more most very also just into out over under
    compare current today now tomorrow yesterday hi hello hey thanks thank ok okay yes no not
    help something stuff thing things
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_NOT_PROPER = frozenset({"I'm", "I've", "I'd", "I'll", "OK", "Ok"})
_VERB_PREFIXES_WORDS = """
    is are was has have had needs need should requires require required use uses using can do
    does did will include includes enable enabled allow allows want wants wanted must
"""
_VERB_PREFIXES = frozenset(_VERB_PREFIXES_WORDS.split())
_NEGATIONS = re.compile(
    r"\b(?:no|not|don't|dont|doesn't|without|never|nothing|none)\b(?:\W+\w+){0,2}\W*$"
)
_AMBIGUITY_FIELDS = ("clarif", "ambig", "unclear", "vague", "follow_up", "followup")
_AMBIGUITY_MARKERS = re.compile(
    r"\b(?:not sure|unsure|unclear|ambiguous|vague|whatever|i don't know|i do not know|"
    r"don't know what|no idea|something like|some kind of|or something|it depends)\b"
)
_YEAR_NAMES = ("year",)


def singular(word: str) -> str:
    """A crude singular: cities -> city, countries -> country, names -> name.

    >>> [singular(w) for w in ("cities", "countries", "names", "boxes", "status", "query")]
    ['city', 'country', 'name', 'box', 'status', 'query']
    """
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _stem(word: str) -> str:
    return singular(word.lower())[:6]


def _balance(expr: str) -> str:
    """Normalise operators and drop unmatched parentheses at the ends of an expression."""
    expr = expr.replace("×", "*").replace("÷", "/").replace("^", "**")
    expr = re.sub(r"(?<=\d)\s*x\s*(?=[\d(])", " * ", expr)
    while expr.count("(") > expr.count(")") and expr.startswith("("):
        expr = expr[1:].lstrip()
    while expr.count(")") > expr.count("(") and expr.endswith(")"):
        expr = expr[:-1].rstrip()
    return expr


_REQUEST_NOUNS_WORDS = """
    weather forecast forecasts population history temperature price prices news summary capital
    distance time date flights flight hotels hotel stock stocks rate rates report population
    weekend trip plan budget cost costs results data facts overview definition meaning
"""
_REQUEST_NOUNS = frozenset(_REQUEST_NOUNS_WORDS.split())


def _proper_nouns(text: str) -> list[str]:
    """Capitalised word runs in text order. A run opening a sentence loses its leading common
    words ("What", "Tell", "Compare"); a sentence-opening word that is a usual request noun
    ("Weather in Paris", "Forecasts for Lyon") is not a proper noun."""
    found: list[str] = []
    for m in _CAPITALISED.finditer(text):
        words = [w for w in m.group(0).split() if w not in _NOT_PROPER]
        if words and _SENTENCE_START.search(text[: m.start()]):
            while words and (
                words[0].lower() in _COMMON
                or words[0].lower() in _VERB_PREFIXES
                or words[0].lower() in _REQUEST_NOUNS
            ):
                words.pop(0)
            while words and words[0].lower() in ("of", "de"):
                words.pop(0)
        if words:
            found.append(" ".join(words))
    return found


class TextFacts:
    """Numbers, an arithmetic expression, quoted strings and proper nouns of user text
    (``history``: earlier user texts, newest first, consulted for enums only).

    >>> f = TextFacts('What is 12 * (3 + 4)? Search "blue whales" for 2 results')
    >>> f.expression, f.quoted, f.numbers
    ('12 * (3 + 4)', ['blue whales'], [12.0, 3.0, 4.0, 2.0])
    >>> TextFacts("Kyoto or Osaka: which is larger?").proper
    ['Kyoto', 'Osaka']
    """

    def __init__(self, text: str, history: Sequence[str] = ()) -> None:
        self.text = text.strip()
        self.lower = self.text.lower()
        self.history = [h.lower() for h in history]
        self.numbers = [float(m.group(0)) for m in _NUMBER.finditer(self.text)]
        self.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(self.text)]
        found = [m.group(0).strip() for m in _EXPRESSION.finditer(self.text)]
        self.expression = _balance(max(found, key=len)) if found else None
        self.proper = _proper_nouns(self.text)
        self._next_number = 0
        self._next_quoted = 0
        self._next_proper = 0

    # --- strings ---------------------------------------------------------------------------
    @property
    def proper_left(self) -> int:
        return len(self.proper) - self._next_proper

    def take_proper(self) -> str | None:
        """The next proper noun phrase (the last one again once all are taken)."""
        if self._next_proper < len(self.proper):
            self._next_proper += 1
            return self.proper[self._next_proper - 1]
        return self.proper[-1] if self.proper else None

    def phrase(self) -> str:
        """The request's subject: without its leading question/instruction words, up to the
        first clause boundary; the whole text when nothing is left.

        >>> TextFacts("What is the population of Tokyo?").phrase()
        'population of Tokyo'
        >>> TextFacts("Research the history of the Eiffel Tower and write a report").phrase()
        'history of the Eiffel Tower'
        """
        words = self.text.split()
        while words and re.sub(r"\W", "", words[0].lower()) in _COMMON | _VERB_PREFIXES:
            words.pop(0)
        rest = " ".join(words)
        cut = _CLAUSE_END.search(rest)
        phrase = (rest[: cut.start()] if cut else rest).strip(" \"'?!.,;:")
        return phrase or self.text

    def take_quoted(self) -> str | None:
        if self._next_quoted < len(self.quoted):
            self._next_quoted += 1
            return self.quoted[self._next_quoted - 1]
        return None

    # --- numbers ---------------------------------------------------------------------------
    @property
    def numbers_left(self) -> int:
        return len(self.numbers) - self._next_number

    def take_number(self, field: str = "") -> float | None:
        """The next number; a year-like field takes the next year (1000-2999) if any."""
        if any(word in field.lower() for word in _YEAR_NAMES):
            for i in range(self._next_number, len(self.numbers)):
                value = self.numbers[i]
                if value.is_integer() and 1000 <= value <= 2999:
                    self.numbers.insert(self._next_number, self.numbers.pop(i))
                    break
        if self._next_number < len(self.numbers):
            self._next_number += 1
            return self.numbers[self._next_number - 1]
        return None

    # --- booleans and enums ----------------------------------------------------------------
    @property
    def ambiguous(self) -> bool:
        """The request says it is unsure, or names nothing (no content word).

        >>> TextFacts("Can you help me with this?").ambiguous, TextFacts("Weather in Paris").ambiguous
        (True, False)
        """
        if _AMBIGUITY_MARKERS.search(self.lower):
            return True
        return not [w for w in _CONTENT_WORD.findall(self.lower) if w not in _COMMON]

    def affirms(self, field: str) -> bool:
        """Whether the request affirms the subject of a boolean field (see the module rules).

        >>> f = TextFacts("I need the weather in Paris, no clarification please")
        >>> f.affirms("need_clarification"), f.affirms("needs_weather"), f.affirms("is_urgent")
        (False, True, False)
        """
        parts = [w for w in re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", field)) if w]
        parts = [w.lower() for w in parts]
        subject = [w for w in parts if w not in _VERB_PREFIXES] or parts
        if any(marker in field.lower() for marker in _AMBIGUITY_FIELDS) and self.ambiguous:
            return True
        for word in subject:
            if len(word) < 3:
                continue
            for m in re.finditer(rf"\b{re.escape(_stem(word))}\w*", self.lower):
                if not _NEGATIONS.search(self.lower[: m.start()]):
                    return True
        return False

    def choose(self, options: Iterable[object]) -> object | None:
        """The string member the conversation mentions: latest text first, then earlier ones
        newest first; within a text the earliest mention wins. None when none is mentioned.

        >>> TextFacts("Use web search, not the cache", ["quick please"]).choose(
        ...     ["cache", "web_search", "quick"])
        'web_search'
        """
        members = [o for o in options if isinstance(o, str) and o]
        for text in (self.lower, *self.history):
            best: tuple[int, object] | None = None
            for member in members:
                spoken = re.sub(r"[_\-]+", " ", member.lower())
                pattern = rf"\b{re.escape(spoken)}(?:s|es)?\b".replace(r"\ ", r"[\s_-]+")
                m = re.search(pattern, text)
                if m and (best is None or m.start() < best[0]):
                    best = (m.start(), member)
            if best is not None:
                return best[1]
        return None
