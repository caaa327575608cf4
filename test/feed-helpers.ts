/**
 * What the feed test files share (test/feed-core.test.ts, test/feed-filter.test.ts): a feed of
 * two MoldUDP64 lines on `lo`, and the list of what a test opened, closed after each test so
 * that a failed assertion never leaves a feed joined or a port taken for the next one.
 */
import { afterEach } from 'vitest';

import { createFeed, type Feed, type FeedOptions } from '../lib/index.js';

export interface FeedKit {
  /** A feed over `groups` on `lo` at `port` (MoldUDP64 unless `options` say otherwise), closed after the test. */
  feedOf(options: Partial<FeedOptions> & { port: number }): Feed;
  /** Whatever else a test opens (sockets, links, temporary folders): closed after it, in order. */
  open: { close(): void }[];
}

/** Call once at the top of a test file: `defaults` apply to every feedOf of the file. */
export function feedKit(groups: readonly [string, string], defaults: Partial<FeedOptions> = {}): FeedKit {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });
  const feedOf = (options: Partial<FeedOptions> & { port: number }): Feed => {
    const { port, ...rest } = options;
    const feed = createFeed({
      lines: groups.map((group) => ({ group, port, interface: 'lo' })),
      sequence: 'moldudp64',
      ...defaults,
      ...rest,
    });
    open.push(feed);
    return feed;
  };
  return { feedOf, open };
}
