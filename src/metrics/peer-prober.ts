/**
 * etcd's peer round-trip measurement (rafthttp probing): every member probes each peer's
 * peer URL over HTTP every 4 s (etcd's proberInterval, its connection read timeout less a
 * second), keeps a smoothed round-trip time per peer, and every 30 s (statusMonitoringInterval)
 * observes it into etcd_network_peer_round_trip_time_seconds{To=<peer id hex>}. A peer that
 * did not answer since the last observation is skipped, as etcd skips unhealthy ones.
 *
 * The probe is a GET of /version, which etcd's and Floe's peer listeners both serve, so a
 * mixed cluster is measured the same way. At most one probe per peer is in flight.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { assert } from '../pkg';
import type { HistogramVec } from './registry';

/** etcd's proberInterval. */
export const PROBE_INTERVAL_MS = 4000;
/** etcd's statusMonitoringInterval. */
export const RTT_REPORT_INTERVAL_MS = 30_000;
/** Weight of a new sample in the smoothed round-trip time (TCP's SRTT gain). */
const SRTT_GAIN = 0.125;

/** Timings of the prober. */
export interface ProberOptions {
  readonly probeIntervalMs?: number;
  readonly reportIntervalMs?: number;
  /** TLS options for https:// peer URLs (CA, client certificate). */
  readonly tls?: https.RequestOptions;
}

interface Target {
  url: string;
  srttSec: number | null;
  answeredSinceReport: boolean;
  inFlight: http.ClientRequest | null;
}

/** Probes peers and reports their round-trip times; see the file comment. */
export class PeerProber {
  private readonly targets = new Map<string, Target>();
  private readonly probeTimer: NodeJS.Timeout;
  private readonly reportTimer: NodeJS.Timeout;
  private readonly probeIntervalMs: number;
  private closed = false;

  /**
   * `peers` tells, at each probe round, who to probe: peer id in hex → its first peer URL
   * (the member's current membership, itself excluded).
   */
  constructor(
    private readonly rtt: HistogramVec,
    private readonly peers: () => ReadonlyMap<string, string>,
    private readonly opts: ProberOptions = {},
  ) {
    this.probeIntervalMs = opts.probeIntervalMs ?? PROBE_INTERVAL_MS;
    const reportMs = opts.reportIntervalMs ?? RTT_REPORT_INTERVAL_MS;
    assert(this.probeIntervalMs > 0 && reportMs > 0, 'prober intervals must be positive');
    this.probeTimer = setInterval(() => this.probeAll(), this.probeIntervalMs);
    this.reportTimer = setInterval(() => this.report(), reportMs);
    this.probeTimer.unref();
    this.reportTimer.unref();
  }

  /**
   * Makes the probed peers exactly `peers`; a peer no longer listed stops being probed, and
   * its series stays (etcd keeps it too).
   */
  private setPeers(peers: ReadonlyMap<string, string>): void {
    for (const [id, t] of this.targets) {
      if (peers.has(id)) continue;
      t.inFlight?.destroy();
      this.targets.delete(id);
    }
    for (const [id, url] of peers) {
      const t = this.targets.get(id);
      if (t === undefined) this.targets.set(id, { url, srttSec: null, answeredSinceReport: false, inFlight: null });
      else t.url = url;
    }
  }

  /** The smoothed round-trip time of a peer in seconds, null before its first answer. */
  srttSeconds(id: string): number | null {
    return this.targets.get(id)?.srttSec ?? null;
  }

  /** Stops probing; probes in flight are cut off. */
  close(): void {
    this.closed = true;
    clearInterval(this.probeTimer);
    clearInterval(this.reportTimer);
    for (const t of this.targets.values()) t.inFlight?.destroy();
    this.targets.clear();
  }

  /** One probe round (also callable by tests instead of waiting for the timer). */
  probeAll(): void {
    if (this.closed) return;
    this.setPeers(this.peers());
    for (const t of this.targets.values()) if (t.inFlight === null) this.probe(t);
  }

  private probe(t: Target): void {
    const startNs = process.hrtime.bigint();
    const url = `${t.url.replace(/\/+$/, '')}/version`;
    const get = url.startsWith('https:') ? https.get : http.get;
    let req: http.ClientRequest;
    try {
      req = get(url, { ...(url.startsWith('https:') ? this.opts.tls : {}), timeout: this.probeIntervalMs }, (res) => {
        res.resume();
        res.on('end', () => {
          if (t.inFlight !== req || this.closed) return;
          t.inFlight = null;
          const sec = Number(process.hrtime.bigint() - startNs) / 1e9;
          t.srttSec = t.srttSec === null ? sec : t.srttSec + SRTT_GAIN * (sec - t.srttSec);
          t.answeredSinceReport = true;
        });
      });
    } catch {
      return; // a URL node cannot even request: nothing to measure
    }
    t.inFlight = req;
    const done = (): void => {
      if (t.inFlight === req) t.inFlight = null;
    };
    req.on('timeout', () => req.destroy());
    req.on('error', done);
    req.on('close', done);
  }

  /** Observes each answering peer's smoothed round-trip time (the 30 s timer's work). */
  report(): void {
    for (const [id, t] of this.targets) {
      if (!t.answeredSinceReport || t.srttSec === null) continue;
      t.answeredSinceReport = false;
      this.rtt.labels(id).observe(t.srttSec);
    }
  }
}
