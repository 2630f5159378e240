using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Serialization;

namespace FastPt.Tracing;

/// <summary>What a FastPt trace (.nettrace) says, in numbers: events per kind, page-table pages and bytes freed,
/// TLB flushes by kind and per operation, per-address-space totals, faults, Start/Stop latency histograms and the
/// values the "FastPt" Meter published. Read one with <see cref="Read(string)"/>.</summary>
/// <example>
/// <code>
/// TraceSummary summary = TraceSummary.Read("fastpt.nettrace");
/// Console.WriteLine($"{summary.Tables.Freed} page-table pages freed, {summary.Flushes.Total} flushes");
/// foreach (ActivitySummary activity in summary.Activities)
///     Console.WriteLine($"{activity.Name}: median {activity.Latency.Median}, p99 {activity.Latency.P99}");
/// </code>
/// </example>
public sealed partial record TraceSummary
{
    /// <summary>The name of the EventSource whose events are summarised.</summary>
    public const string ProviderName = "FastPt";

    /// <summary>The file (or stream name) the summary was read from.</summary>
    public string Source { get; init; } = "";

    /// <summary>Time from the first to the last event.</summary>
    [JsonPropertyName("durationMicroseconds")]
    public TimeSpan Duration { get; init; }

    /// <summary>Events of every provider in the trace.</summary>
    public long TotalEvents { get; init; }

    /// <summary>Events of the FastPt provider.</summary>
    public long FastPtEvents { get; init; }

    /// <summary>Events the runtime reported as lost (its buffers were full): the counts below are then lower bounds.</summary>
    public long EventsLost { get; init; }

    /// <summary>FastPt events whose payload holds a value the engine cannot produce (an undefined flush kind, a
    /// table level out of range, an unaligned range, a negative count): the sign of a damaged file, since a
    /// .nettrace carries no checksums. Counted here and left out of nothing else.</summary>
    public long AnomalyCount { get; init; }

    /// <summary>The first few anomalies, described.</summary>
    public IReadOnlyList<string> Anomalies { get; init; } = [];

    /// <summary>Events per provider and name, FastPt first, then by count.</summary>
    public IReadOnlyList<EventCount> Events { get; init; } = [];

    /// <summary>Events per provider, FastPt first: how many, of how many kinds, and what the provider is (the
    /// runtime's rundown, the Meter's transport...), so that the runtime's events can be shown as one line each.</summary>
    public IReadOnlyList<ProviderSummary> Providers { get; init; } = [];

    /// <summary>What the file says beyond the counts: known harmless runtime events explained, and warnings about
    /// problems (another metrics session held the Meter, an instrument callback threw, a limit was reached).</summary>
    public IReadOnlyList<TraceNote> Notes { get; init; } = [];

    /// <summary>Page-table pages allocated, freed and split.</summary>
    public PageTableSummary Tables { get; init; } = new();

    /// <summary>Memory given back, derived from the frees the trace records.</summary>
    [JsonPropertyName("bytesFreed")]
    public FreedMemory Freed { get; init; } = new();

    /// <summary>TLB flushes and the invalidations CPU contexts applied.</summary>
    public FlushSummary Flushes { get; init; } = new();

    /// <summary>Map, unmap, protect and teardown operations with the flushes that followed each kind.</summary>
    public IReadOnlyList<OperationSummary> Operations { get; init; } = [];

    /// <summary>Flushes that no operation event preceded on their thread and address space (a gather finished
    /// by someone else, or an operation traced before the session started).</summary>
    public long UnattributedFlushes { get; init; }

    /// <summary>Totals per address space (by the id of <c>AddressSpace.Id</c>; the kernel has one too).</summary>
    public IReadOnlyList<SpaceSummary> Spaces { get; init; } = [];

    /// <summary>Page faults.</summary>
    public FaultSummary Faults { get; init; } = new();

    /// <summary>RCU grace periods and deferred table frees.</summary>
    public RcuSummary Rcu { get; init; } = new();

    /// <summary>Page-table lock contention.</summary>
    public LockSummary Locks { get; init; } = new();

    /// <summary>Start/Stop pairs by task (hot-add, hot-remove, HVO batches, ...) with their latency histograms.</summary>
    public IReadOnlyList<ActivitySummary> Activities { get; init; } = [];

    /// <summary>Values the "FastPt" Meter published during the trace (empty unless the
    /// <c>System.Diagnostics.Metrics</c> provider was enabled for it).</summary>
    public IReadOnlyList<MetricSummary> Metrics { get; init; } = [];

    /// <summary>The totals of address space <paramref name="id"/>, or null if the trace never mentions it.</summary>
    public SpaceSummary? Space(ulong id) => Spaces.FirstOrDefault(space => space.Id == id);

    /// <summary>The operation summary called <paramref name="name"/> ("map", "unmap", "protect", "teardown"), or
    /// null when the trace has none.</summary>
    public OperationSummary? Operation(string name) =>
        Operations.FirstOrDefault(operation => string.Equals(operation.Name, name, StringComparison.Ordinal));

    /// <summary>The activity called <paramref name="name"/> (its task name, e.g. "HotRemove"), or null.</summary>
    public ActivitySummary? Activity(string name) =>
        Activities.FirstOrDefault(activity => string.Equals(activity.Name, name, StringComparison.Ordinal));

    /// <summary>How many FastPt events called <paramref name="name"/> the trace holds.</summary>
    public long CountOf(string name) =>
        Events.Where(e => e.Provider == ProviderName && e.Name == name).Sum(e => e.Count);

    /// <summary>Reads and summarises the trace file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="TraceFormatException">The file is not a .nettrace, or it is truncated or corrupt.</exception>
    public static TraceSummary Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such trace file", path);
        // Shared access: the file may still be open for writing by the session that records it.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return Read(stream, path);
    }

    /// <summary>Reads and summarises a trace from <paramref name="stream"/>; <paramref name="name"/> names it in
    /// the summary and in errors.</summary>
    /// <exception cref="TraceFormatException">The stream is not a .nettrace, or it is truncated or corrupt.</exception>
    public static TraceSummary Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        return TraceReader.Summarise(stream, name);
    }
}

/// <summary>The events of one provider.</summary>
/// <param name="Name">The provider (EventSource) name.</param>
/// <param name="Events">How many events it wrote.</param>
/// <param name="Kinds">Of how many distinct names.</param>
/// <param name="Role">What the provider's events are, in a phrase.</param>
public sealed record ProviderSummary(string Name, long Events, int Kinds, string Role);

/// <summary>How much a <see cref="TraceNote"/> matters (in JSON "information" or "warning").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TraceNoteSeverity>))]
public enum TraceNoteSeverity
{
    /// <summary>An event that looks alarming but is known to be harmless, explained.</summary>
    [JsonStringEnumMemberName("information")]
    Information,

    /// <summary>Something the reader should act on: the summary lacks data it would otherwise have.</summary>
    [JsonStringEnumMemberName("warning")]
    Warning,
}

/// <summary>One remark of a summary about the file.</summary>
/// <param name="Severity">Information or warning.</param>
/// <param name="Text">The remark, in a sentence or two.</param>
public sealed record TraceNote(TraceNoteSeverity Severity, string Text);

/// <summary>The number of events of one name from one provider.</summary>
/// <param name="Provider">The provider (EventSource) name.</param>
/// <param name="Name">The event name, with "/Start" or "/Stop" for the two ends of an activity.</param>
/// <param name="Count">How many.</param>
public sealed record EventCount(string Provider, string Name, long Count);

/// <summary>Page-table pages allocated and freed (from the verbose TableAlloc and TableFree events) and huge leaves
/// split.</summary>
public sealed record PageTableSummary
{
    /// <summary>Tables allocated and constructed.</summary>
    public long Allocated { get; init; }

    /// <summary>Tables destructed and freed.</summary>
    public long Freed { get; init; }

    /// <summary>Of <see cref="Allocated"/>, kernel tables.</summary>
    public long KernelAllocated { get; init; }

    /// <summary>Of <see cref="Freed"/>, kernel tables.</summary>
    public long KernelFreed { get; init; }

    /// <summary>Tables allocated per level: index 1 = PTE, 2 = PMD, 3 = PUD, 4 = P4D (the PGD, the root, with
    /// 4-level paging), 5 = the PGD of 5-level paging; index 0 unused.</summary>
    public IReadOnlyList<long> AllocatedByLevel { get; init; } = new long[6];

    /// <summary>Tables freed per level, indexed like <see cref="AllocatedByLevel"/>.</summary>
    public IReadOnlyList<long> FreedByLevel { get; init; } = new long[6];

    /// <summary>Huge leaves split into tables of smaller leaves.</summary>
    public long Splits { get; init; }
}

/// <summary>Memory freed, in bytes, by what it held.</summary>
public sealed record FreedMemory
{
    /// <summary>Size of one page frame.</summary>
    public const long PageBytes = 4096;

    /// <summary>Page-table pages freed × 4 KiB.</summary>
    [JsonPropertyName("pageTables")]
    public long PageTableBytes { get; init; }

    /// <summary>Memmap frames freed by hot-remove (HotRemove/Stop's <c>memmapFramesFreed</c>) × 4 KiB.</summary>
    [JsonPropertyName("memmap")]
    public long MemmapBytes { get; init; }

    /// <summary>Vmemmap pages freed by HugeTLB vmemmap optimization (VmemmapBatch/Stop's <c>pagesFreed</c>) × 4 KiB.</summary>
    [JsonPropertyName("vmemmap")]
    public long VmemmapBytes { get; init; }

    /// <summary>All of it.</summary>
    public long Total => PageTableBytes + MemmapBytes + VmemmapBytes;
}

/// <summary>TLB flushes published (TlbFlush events) and the invalidations the CPU contexts applied
/// (ContextInvalidated events).</summary>
public sealed record FlushSummary
{
    /// <summary>Flushes published.</summary>
    public long Total { get; init; }

    /// <summary>Flushes by kind (every kind present, zero included).</summary>
    public IReadOnlyDictionary<FlushKind, long> ByKind { get; init; } = new Dictionary<FlushKind, long>();

    /// <summary>Sum over flushes of the CPU contexts each was published to.</summary>
    public long ContextsNotified { get; init; }

    /// <summary>Times a context caught up with the flushes it had missed.</summary>
    public long ContextCatchUps { get; init; }

    /// <summary>Flush requests the contexts applied in those catch-ups.</summary>
    public long RequestsApplied { get; init; }

    /// <summary>Catch-ups that dropped everything because the context fell too far behind.</summary>
    public long FullResyncs { get; init; }

    /// <summary>Flushes of <paramref name="kind"/>.</summary>
    public long Of(FlushKind kind) => ByKind.TryGetValue(kind, out long count) ? count : 0;
}

/// <summary>One kind of page-table operation: how many, how much, and the TLB flushes that followed them.</summary>
/// <remarks>A flush is charged to the last operation event on the same thread and address space before it: the
/// unmap or protect whose gather published it, or the teardown. Flushes a shared gather publishes when it is
/// disposed are charged to the last operation that used it.</remarks>
public sealed record OperationSummary
{
    /// <summary>"map", "unmap", "protect" or "teardown".</summary>
    public string Name { get; init; } = "";

    /// <summary>Operations traced.</summary>
    public long Count { get; init; }

    /// <summary>Bytes of address space they covered (0 for teardown).</summary>
    public long Bytes { get; init; }

    /// <summary>Leaves installed (map only).</summary>
    public long Leaves { get; init; }

    /// <summary>Page-table pages the operations allocated (map) or emptied and freed (unmap, teardown).</summary>
    public long Tables { get; init; }

    /// <summary>Flushes charged to these operations.</summary>
    public long Flushes { get; init; }

    /// <summary>Those flushes by kind.</summary>
    public IReadOnlyDictionary<FlushKind, long> FlushesByKind { get; init; } = new Dictionary<FlushKind, long>();

    /// <summary>Flushes per operation.</summary>
    public double FlushesPerOperation => Count == 0 ? 0 : (double)Flushes / Count;
}

/// <summary>Totals of one address space.</summary>
public sealed record SpaceSummary
{
    /// <summary>The address space's id (<c>AddressSpace.Id</c>).</summary>
    public ulong Id { get; init; }

    /// <summary>True when its tables are kernel tables (init_mm).</summary>
    public bool Kernel { get; init; }

    /// <summary>Map operations.</summary>
    public long Maps { get; init; }

    /// <summary>Unmap operations.</summary>
    public long Unmaps { get; init; }

    /// <summary>Protect operations.</summary>
    public long Protects { get; init; }

    /// <summary>Bytes mapped.</summary>
    public long BytesMapped { get; init; }

    /// <summary>Bytes unmapped.</summary>
    public long BytesUnmapped { get; init; }

    /// <summary>Leaves installed by maps.</summary>
    public long LeavesMapped { get; init; }

    /// <summary>Page-table pages allocated (TableAlloc events, root included).</summary>
    public long TablesAllocated { get; init; }

    /// <summary>Page-table pages freed (TableFree events).</summary>
    public long TablesFreed { get; init; }

    /// <summary>Huge leaves split.</summary>
    public long Splits { get; init; }

    /// <summary>Flushes published.</summary>
    public long Flushes { get; init; }

    /// <summary>Flushes by kind.</summary>
    public IReadOnlyDictionary<FlushKind, long> FlushesByKind { get; init; } = new Dictionary<FlushKind, long>();

    /// <summary>Page faults.</summary>
    public long Faults { get; init; }

    /// <summary>True once the trace saw the address space torn down.</summary>
    public bool TornDown { get; init; }

    /// <summary>Flushes of <paramref name="kind"/>.</summary>
    public long FlushesOf(FlushKind kind) => FlushesByKind.TryGetValue(kind, out long count) ? count : 0;
}

/// <summary>Page faults by reason and by access.</summary>
public sealed record FaultSummary
{
    /// <summary>Faults traced.</summary>
    public long Total { get; init; }

    /// <summary>Faults by reason.</summary>
    public IReadOnlyDictionary<FaultReason, long> ByReason { get; init; } = new Dictionary<FaultReason, long>();

    /// <summary>Faults by kind of access.</summary>
    public IReadOnlyDictionary<AccessKind, long> ByAccess { get; init; } = new Dictionary<AccessKind, long>();
}

/// <summary>RCU activity.</summary>
public sealed record RcuSummary
{
    /// <summary>Grace periods that ran callbacks.</summary>
    public long GracePeriods { get; init; }

    /// <summary>Callbacks those grace periods ran.</summary>
    public long CallbacksRun { get; init; }

    /// <summary>Page-table pages handed to <c>pte_free_defer</c>.</summary>
    public long TablesDeferred { get; init; }

    /// <summary>Of those, deferrals that queued the page's RCU head (the others joined one already queued).</summary>
    public long HeadsQueued { get; init; }
}

/// <summary>Page-table lock contention.</summary>
public sealed record LockSummary
{
    /// <summary>Contended acquisitions.</summary>
    public long Contended { get; init; }

    /// <summary>Spins spent waiting in them.</summary>
    public long Spins { get; init; }
}

/// <summary>Start/Stop pairs of one task, matched by thread (and by the <c>start</c> address when both ends carry
/// one), with a latency histogram and the totals of the Stop events' numeric fields.</summary>
public sealed record ActivitySummary
{
    /// <summary>The task name (e.g. "HotAdd", "HotRemove", "VmemmapBatch").</summary>
    public string Name { get; init; } = "";

    /// <summary>Matched Start/Stop pairs.</summary>
    public long Completed { get; init; }

    /// <summary>Starts without a Stop (still running when the trace stopped).</summary>
    public long UnmatchedStarts { get; init; }

    /// <summary>Stops without a Start (the Start came before the trace started).</summary>
    public long UnmatchedStops { get; init; }

    /// <summary>Durations of the matched pairs.</summary>
    public LatencyHistogram Latency { get; init; } = LatencyHistogram.Empty;

    /// <summary>Sums of the numeric payload fields of every Stop event (booleans count the true ones), e.g.
    /// <c>memmapFramesFreed</c> or <c>pagesFreed</c>.</summary>
    public IReadOnlyDictionary<string, double> StopTotals { get; init; } = new Dictionary<string, double>();
}

/// <summary>Values one Meter instrument (with one set of tags) published.</summary>
public sealed record MetricSummary
{
    /// <summary>The instrument name, e.g. <c>fastpt.page_tables</c>.</summary>
    public string Instrument { get; init; } = "";

    /// <summary>Its tags as published ("kind=boot"), or empty.</summary>
    public string Tags { get; init; } = "";

    /// <summary>The unit, or empty.</summary>
    public string Unit { get; init; } = "";

    /// <summary>The instrument type as the Metrics provider names it (gauge, counter, up-down counter).</summary>
    public string Kind { get; init; } = "";

    /// <summary>Values published.</summary>
    public long Samples { get; init; }

    /// <summary>The last value.</summary>
    public double Last { get; init; }

    /// <summary>The smallest value.</summary>
    public double Minimum { get; init; }

    /// <summary>The largest value.</summary>
    public double Maximum { get; init; }
}
