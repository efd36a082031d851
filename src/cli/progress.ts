/**
 * Progress of the command line's long runs (several scenario files, the RM conformance suite):
 * on a terminal a progress bar drawn by cli-progress (with the item in hand, and notable lines —
 * failures — printed above the bar as they happen); on anything else one plain line per finished
 * item, `[3/15] examples/scenarios/mmio-lengths.json: 6/6 passed`, which a CI log or a file
 * keeps readable. The bar only shows; nothing it does reaches the emulator.
 *
 * Reference: docs/scenarios.md ("Running many scenarios"); docs/decisions.md "Scenarios" (the
 * progress-bar row).
 */
import cliProgress from 'cli-progress';

/** What progress is written to: a stream, a terminal when `isTTY` is true (`columns` its width). */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Items to do. */
  readonly total: number;
  /** Default: stderr (stdout keeps the command's report). */
  readonly stream?: ProgressStream;
  /** Word in front of the bar ("scenarios", "conformance"). */
  readonly title?: string;
  /**
   * On a stream that is not a terminal: write the plain `[i/N] item: outcome` lines (default
   * true). False when the command prints its own line per item there.
   */
  readonly plainLines?: boolean;
}

/** A run's progress. Call `stop` when the run ends (also on an error). */
export interface Progress {
  /** A bar is drawn (the stream is a terminal). */
  readonly bar: boolean;
  /** Item `label` begins (the bar shows it). */
  begin(label: string): void;
  /** Item `label` ended with `outcome`; `notable`: also print the plain line above the bar. */
  done(label: string, outcome: string, opts?: { readonly notable?: boolean }): void;
  /** A line of text (no newline): above the bar, or as it is on a plain stream. */
  log(line: string): void;
  /** Final state of the bar; idempotent. */
  stop(): void;
}

/** The plain line of item `index` (1-based) of `total`. */
export function formatProgressLine(index: number, total: number, label: string, outcome: string): string {
  return `[${index}/${total}] ${label}: ${outcome}`;
}

/** Progress on `o.stream`: a bar on a terminal, plain lines otherwise. */
export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  let finished = 0;
  if (stream.isTTY !== true) {
    const plain = o.plainLines !== false;
    return {
      bar: false,
      begin() {},
      done(label, outcome) {
        finished++;
        if (plain) stream.write(`${formatProgressLine(finished, o.total, label, outcome)}\n`);
      },
      log(line) {
        stream.write(`${line}\n`);
      },
      stop() {},
    };
  }

  const multi = new cliProgress.MultiBar({
    // cli-progress types a Node stream; it only calls write and reads isTTY and columns.
    stream: stream as NodeJS.WritableStream,
    format: `${o.title ?? 'progress'} [{bar}] {value}/{total} {percentage}% | {item}`,
    barCompleteChar: '█',
    barIncompleteChar: '░',
    barsize: 30,
    // Trim to the terminal's width rather than switching its line wrapping off.
    linewrap: true,
    hideCursor: false,
    // Lines logged above the bar clear it: draw it again at each update.
    forceRedraw: true,
    clearOnComplete: false,
    autopadding: true,
  });
  const bar = multi.create(o.total, 0, { item: '' });
  let stopped = false;
  return {
    bar: true,
    begin(label) {
      if (stopped) return;
      bar.update(finished, { item: label });
      multi.update();
    },
    done(label, outcome, opts) {
      if (stopped) return;
      finished++;
      if (opts?.notable === true) multi.log(`${formatProgressLine(finished, o.total, label, outcome)}\n`);
      bar.update(finished, { item: `${label}: ${outcome}` });
      multi.update();
    },
    log(line) {
      if (stopped) {
        stream.write(`${line}\n`);
        return;
      }
      multi.log(`${line}\n`);
      multi.update();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multi.update();
      multi.stop();
    },
  };
}
