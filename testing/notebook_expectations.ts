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
  /**
   * Per code cell, in order: how many outputs with something to show (a non-empty bundle, a stream, an
   * error) it must have in the executed notebook at least.
   */
  cellOutputs: number[];
  /** How many outputs holding an `<svg>` the executed notebook must have at least (static or live). */
  svgs?: number;
  /**
   * The notebook's last cell's value reports `rowsReceived` and `rowsAddedOnServer` over a wait: the share
   * of the server's rows the live table must have received.
   */
  keptUpShare?: number;
}

/**
 * The server the notebooks run against. Its sessions last a minute rather than the 10 s of the default test
 * server, so that a kernel busy with other notebooks' start-up does not let a session expire.
 */
export const NOTEBOOK_SERVER: { jvmArgs: string[] } = {
  jvmArgs: [
    "-Xmx2g",
    "-Dhttp.session.durationMs=60000",
    // Updates every 100 ms, so that "rows received" against "rows the server added" is exact to a few rows.
    "-DPeriodicUpdateGraph.targetCycleDurationMillis=100",
    "-Dbarrage.minUpdateInterval=100",
  ],
};

/** Display ids of the project's live outputs start with this. */
export const DISPLAY_ID_PREFIX = "dh-";

/** The expectations, keyed by notebook file name. */
export const EXPECTATIONS: Record<string, NotebookExpectation> = {
  // No server: static local tables, a derived table and a chart as cell values, and display() with options.
  "00_smoke.ipynb": {
    needsServer: false,
    tables: [{ columns: ["Tick", "Row", "Value"] }],
    svgs: 1,
    cellOutputs: [1, 1, 1, 2],
  },
  // The seed scenario: timeTable("PT1s").update(["X = 0.1 * i", "Y = sin(X)"]) shown live, as cell values.
  "01_seed.ipynb": {
    needsServer: true,
    liveTables: [{ columns: ["Timestamp", "X", "Y"] }, { columns: ["Rows", "MeanY", "MaxY", "LastX"] }],
    tables: [{ columns: ["Timestamp", "X", "Y"] }],
    cellOutputs: [1, 1, 1, 1, 1, 1],
  },
  // Three live outputs of a 10 rows/s table (the table, a lastBy of it, a plot of it), then a 5 s watch.
  "02_live_plot.ipynb": {
    needsServer: true,
    liveTables: [{ columns: ["Timestamp", "X", "Y", "Sym"] }, { columns: ["Sym", "Timestamp", "X", "Y"] }],
    plots: 1,
    keptUpShare: 0.9,
    cellOutputs: [1, 1, 1, 1, 1],
  },
  // A static snapshot of a server-side table, read as objects and as Arrow, and a chart of it.
  "03_scripted_snapshot.ipynb": {
    needsServer: true,
    tables: [{ columns: ["Sym", "Price", "Size"] }],
    svgs: 1,
    cellOutputs: [1, 1, 1, 2, 1],
  },
};

/** The notebooks the repeated-runs test executes 20 times each (quick ones, covering every kind of output). */
export const REPEATED: string[] = ["00_smoke.ipynb", "03_scripted_snapshot.ipynb"];
