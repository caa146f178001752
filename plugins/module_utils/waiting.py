# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Waiting for a peering: one deadline, growing pauses between reads, what is worth waiting through, and a
failure that names the last state seen.

The reads, the clock and the sleep are passed in, so that a fake clock and a scripted reader test it all.
"""

from __future__ import annotations

import time

from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulConnectionError, ConsulError, ConsulTLSError, ConsulTimeoutError,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    PeeringError, describe_stream, dialer_matches_token,
)

# Seconds before the second read of a wait (and before the first one after a write): a rested Consul 1.14 has
# a new peering ACTIVE within 0.03 s of the establish (docs/performance.md).
POLL_FIRST = 0.05
POLL_GROWTH = 1.5
# A busy Consul opens a new dialing stream from a sync loop that runs every 5 s after a burst: for the first
# POLL_EARLY_SECONDS of a wait, reads are at most POLL_MAX_EARLY apart, so that the wait ends at most that late
# after the loop run; after that, at most POLL_MAX apart.
POLL_MAX_EARLY = 0.5
POLL_EARLY_SECONDS = 10.0
POLL_MAX = 2.0
# Consul 1.14 can leave a peering marked for deletion for good (a TERMINATED row with DeletedAt set: its
# deletion routine skips TERMINATED rows, agent/consul/leader_peering.go removePeeringAndData), and a second
# DELETE clears it at once. A DELETE for a row that is already DELETING is a no-op there (PeeringDelete), so
# sending it again costs one call and never harms. 10 s is above what a peering with little imported data
# needs to go (Consul's own tests allow 7 s), and well below the default wait of 120 s.
STALL_SECONDS = 10.0
# A Consul server that has just restarted answers reads as soon as raft makes it leader, before it has applied
# its raft log (agent/consul/leader.go: leaderLoop's barrier); for those milliseconds it does not know tokens and
# peerings that it knows right after. Measured on 1.14.11: "ACL not found" (HTTP 403) for the management token
# 4 ms after "cluster leadership acquired". So once a wait saw the server fail, an answer that something is not
# found (HTTP 403 "ACL not found", or no peering) is read again until the server has answered for this long.
SETTLE_SECONDS = 2.0
TOO_MANY_REQUESTS = 429
# Seconds a refused establish waits for a concurrent run to finish establishing the same peering.
RACE_GRACE = 10

_NOT_READ = object()


def is_retryable(exc):
    """Whether a wait should read again after `exc`: the server may be restarting, electing a leader, busy
    or slow. A TLS failure (an untrusted or misnamed certificate) and a 4xx answer do not heal by waiting."""
    if isinstance(exc, ConsulTLSError):
        return False
    if isinstance(exc, (ConsulConnectionError, ConsulTimeoutError)):
        return True
    if isinstance(exc, ConsulAPIError) and exc.status is not None:
        return exc.status >= 500 or exc.status == TOO_MANY_REQUESTS
    return isinstance(exc, ConsulError)


def deletion_mark(peering):
    """What tells one deletion of a peering from another: its ID and DeletedAt; None when it is not marked for
    deletion (a peering of the same name created since is not a wait's to delete again)."""
    if peering is None or not peering.get('DeletedAt'):
        return None
    return peering.get('ID'), peering['DeletedAt']


def _not_found(exc):
    """Whether `exc` says the ACL token is not known, which a restarting server says of every token."""
    return isinstance(exc, ConsulAPIError) and exc.status == 403 and 'ACL not found' in (exc.body or str(exc))


class Stall:
    """Tells when the same thing has been seen, unchanged, for `seconds`."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._key = None
        self._since = None

    def seen(self, key):
        """True once `key` (None: nothing to watch) has been seen unchanged for `seconds`; then it starts over."""
        now = self.clock()
        if key is None or key != self._key:
            self._key, self._since = key, now
            return False
        if now - self._since >= self.seconds:
            self._since = now
            return True
        return False


class Waiter:
    """One wait for the peering `name`, up to `timeout` seconds from its first read.

    `read(deadline)` returns the peering (or None) and must not run past `deadline`, a clock() value; the
    client cuts every request short there, so a wait ends within `timeout` whatever the server does.
    """

    def __init__(self, read, name, timeout, clock=time.monotonic, sleep=time.sleep):
        self.read = read
        self.name = name
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.deadline = None
        self.last = _NOT_READ
        self.last_error = None
        self._delay = POLL_FIRST
        self._down = False  # the last read failed in a way a restart causes
        self._back = None  # when the server answered again after that

    @property
    def seen(self):
        """Whether any read of this wait was answered; `last` is then the last answer."""
        return self.last is not _NOT_READ

    def start(self):
        """Start the clock, once; return the deadline."""
        if self.deadline is None:
            self.deadline = self.clock() + self.timeout
        return self.deadline

    def first_read(self, goal):
        """The peering, read as the first poll of this wait: what a retry can heal is read through until the
        deadline, so that a server restarting just before the wait does not end it."""
        return self.until(lambda peering: True, goal, pause_first=False)

    def until(self, done, goal, known=None, pause_first=True, on_answer=None):
        """Read until done(peering) is true and return that peering; raise PeeringError at the deadline.

        `known` is a state just read and not followed by a write: when it is already done, nothing is read.
        `on_answer(peering)`, called after each peering read that is not done yet, may act on it (a retryable
        error it raises counts as a failed read). done() may raise PeeringError to end the wait early.
        """
        if known is not None and done(known):
            return known
        self.start()
        # What was just read, or just written, is not the goal yet: Consul opens peering streams and removes
        # peerings in the background, so reading again at once would only cost a call.
        if pause_first:
            self._pause()
        while True:
            try:
                peering = self.read(self.deadline)
                self.last, self.last_error = peering, None
                if (peering is not None or not self._settling()) and done(peering):
                    return peering
                if peering is not None and on_answer is not None:
                    on_answer(peering)
            except ConsulError as exc:
                if is_retryable(exc):
                    self._down = True
                elif not (_not_found(exc) and self._settling()):
                    raise
                self.last_error = exc
            if not self._pause():
                raise PeeringError(self.failure(goal))

    def _settling(self):
        """Whether the server came back from a failure less than SETTLE_SECONDS ago (call it on an answer)."""
        if self._down:
            self._down, self._back = False, self.clock()
        return self._back is not None and self.clock() - self._back < SETTLE_SECONDS

    def _pause(self):
        """Sleep before the next read; False, without sleeping, when that read would start past the deadline."""
        if self.clock() + self._delay > self.deadline:
            return False
        self.sleep(self._delay)
        early = self.clock() - (self.deadline - self.timeout) < POLL_EARLY_SECONDS
        self._delay = min(self._delay * POLL_GROWTH, POLL_MAX_EARLY if early else POLL_MAX)
        return True

    def failure(self, goal):
        """What a wait that timed out says: the last state seen and, when the last read failed, its error."""
        text = 'Timed out after %gs waiting for peering %r to %s; ' % (self.timeout, self.name, goal)
        if self.last_error is None:
            return text + describe_stream(self.last)
        text += 'last error: %s' % self.last_error
        if self.seen:
            text += '; last state seen: %s' % describe_stream(self.last)
        return text


def joined_concurrent_establish(read, name, token_info, timeout):
    """After Consul refused an establish: whether another run establishes the same peering within RACE_GRACE
    seconds (at most `timeout`), and the Waiter that looked (its `last` is what it saw).

    Two runs racing on one pair both generate a token and both establish: the later token voids the earlier
    one, or both exchange their secrets and the second write finds the first one's peering. A dialing side
    holding the token's peering (same accepting side, secret exchanged) then means the goal is reached.
    """
    grace = Waiter(read, name, min(RACE_GRACE, timeout))
    try:
        grace.until(lambda peering: dialer_matches_token(peering, token_info), 'be established by another run')
    except PeeringError:
        return False, grace
    return True, grace
