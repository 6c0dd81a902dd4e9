/**
 * What the notebook tests expect of each notebook in `notebooks/`, keyed by file name. Adjust the entries
 * here when a notebook changes; a notebook without an entry fails its test with a note to add one.
 *
 * @module
 */

/** A table shown in a notebook: an HTML `<table>` with these `<th>` names. */
export interface LiveTableExpectation {
  /** Column names that must appear as `<th>` cells (more columns may be there too). */
  columns: string[];
}

/** The expectations for one notebook. */
export interface NotebookExpectation {
  /** Whether the notebook connects to a Deephaven server (the test then passes DH_HOST/DH_PORT). */
  needsServer: boolean;
  /** The exact number of distinct display ids starting with {@linkcode DISPLAY_ID_PREFIX}, when given. */
  displayIds?: number;
  /**
   * Tables that must be in the executed notebook: an output whose `text/html` holds a `<table>` with these
   * columns (static or live, with or without a display id).
   */
  tables?: LiveTableExpectation[];
  /** Live tables that must be shown and tick (updates with changing `text/html`). */
  liveTables?: LiveTableExpectation[];
  /** How many distinct live plots (display ids whose output holds an `<svg`) must be shown and tick. */
  plots?: number;
  /** How many times each live table or plot must change through `update_display_data`. Default 2. */
  minChanges?: number;
  /** The whole run's deadline in seconds. Default 300. */
  timeoutSeconds?: number;
}

/**
 * The server the notebooks run against. Its sessions last a minute rather than the 10 s of the default test
 * server: under load the Deno kernel has been seen to stall its event loop for ~20 s (no timers, no stream
 * data) while a cell awaited updates, and a 10 s session would expire in such a stall.
 */
export const NOTEBOOK_SERVER: { jvmArgs: string[] } = {
  jvmArgs: ["-Xmx2g", "-Dhttp.session.durationMs=60000"],
};

/** Display ids of the project's live outputs start with this. */
export const DISPLAY_ID_PREFIX = "dh-";

/** The expectations, keyed by notebook file name. */
export const EXPECTATIONS: Record<string, NotebookExpectation> = {
  // Kernel plumbing only (Deno.jupyter, no server): one table updated in place 5 times.
  "00_smoke.ipynb": {
    needsServer: false,
    displayIds: 1,
    liveTables: [{ columns: ["Tick", "Row", "Value"] }],
  },
  // The seed scenario: timeTable("PT1s").update(["X = 0.1 * i", "Y = sin(X)"]) shown live.
  "01_seed.ipynb": {
    needsServer: true,
    liveTables: [{ columns: ["Timestamp", "X", "Y"] }, { columns: ["Rows", "MeanY", "MaxY", "LastX"] }],
    tables: [{ columns: ["Timestamp", "X", "Y"] }],
  },
  // A live Observable Plot of a ticking table.
  "02_live_plot.ipynb": {
    needsServer: true,
    plots: 1,
  },
  // A static snapshot of a server-side table, read as objects and as Arrow.
  "03_scripted_snapshot.ipynb": {
    needsServer: true,
    tables: [{ columns: ["Sym", "Price", "Size"] }],
  },
};
