"""Where a new sha256 comes from: the upstream's list of published files, or a download.

The rewrite asks a `Hasher` for the hash of each new URL it considers; it answers from the
published digests where they apply (the right file name under the right location), else
through the caller's `sha256_of`, once per URL, and remembers why a URL had no hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from pathlib import PurePosixPath

from bot.errors import RateLimited, RewriteRefused, UpstreamUnavailable
from bot.formats import urls

Sha256Of = Callable[[str], str]

HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class Hasher:
    """The new sha256 of a URL: published for its file name, else `sha256_of`, once per URL.

    A published hash counts for a URL under one of the `locations` prefixes (when given): a
    file of the same name elsewhere (another server, a tag archive) is another file. Only a
    URL that is not there (a 404, a 403 as S3 answers for a missing key, or any error from a
    `sha256_of` that does not say) makes the rewrite try other forms; a time-out, a 5xx or a
    rate limit on the right URL is a refusal, never a quiet switch to `.zip` or another tag.
    """

    def __init__(
        self,
        sha256_of: Sha256Of,
        published: Mapping[str, str],
        locations: Collection[str] | None,
    ) -> None:
        self._sha256_of = sha256_of
        self._published = {name: digest.lower() for name, digest in published.items()}
        self._locations = tuple(locations) if locations else None
        self._keys = {name_key(name) for name in self._published}
        self.publishes = bool(self._published)
        self._digests: dict[str, str | None] = {}
        self.errors: dict[str, str] = {}

    def _located(self, url: str) -> bool:
        return self._locations is None or url.startswith(self._locations)

    def published(self, url: str) -> str | None:
        if not self._located(url):
            return None
        digest = self._published.get(file_name(url))
        return digest if digest and HEX64.fullmatch(digest) else None

    def may_publish(self, url: str) -> bool:
        """Whether some form of `url` (extension, `v`, spelling) could name a published file."""
        if not self._located(url):
            return False
        return name_key(file_name(url)) in self._keys

    def respelled(self, written: str, url: str) -> str | None:
        """The URL text respelled to name a published file that differs only in spelling."""
        name = file_name(url)
        for published in self._published:
            form = urls.published_form(written, name, published)
            if form is not None:
                return form
        return None

    def digest(self, url: str) -> str | None:
        published = self.published(url)
        if published is not None:
            return published
        if url not in self._digests:
            try:
                digest = self._sha256_of(url)
            except (UpstreamUnavailable, RateLimited) as error:
                # Down or rate-limited, not missing: another form is no answer to that.
                raise RewriteRefused(
                    f"cannot download {url}: {error} (not trying other forms of the URL)"
                ) from None
            except Exception as error:  # the contract: sha256_of raises anything on failure
                self.errors[url] = str(error) or type(error).__name__
                digest = None
            if digest is not None and not (isinstance(digest, str) and HEX64.fullmatch(digest)):
                raise RewriteRefused(f"the sha256 given for {url} is not 64 hex digits: {digest!r}")
            self._digests[url] = digest.lower() if digest else None
        return self._digests[url]


def file_name(url: str) -> str:
    return PurePosixPath(url.split("?")[0].split("#")[0]).name


def name_key(name: str) -> str:
    """A file name with its spelling, archive extension and version `v` ironed out."""
    for extension in urls.EXTENSIONS:
        if name.endswith(extension):
            name = name[: -len(extension)]
            break
    return urls.normalized_name(name).replace("-v", "-")
