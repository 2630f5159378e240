using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace FastPt.Tracing;

/// <summary>Reads a .nettrace with TraceEvent's <see cref="EventPipeEventSource"/> and accumulates the summary.
/// Every event arrives through the dynamic parser (<c>source.Dynamic.All</c>), which names events and their
/// payload fields from the metadata the trace carries, so payload fields are read by name and an event version
/// with more fields still reads. The runtime's own providers carry no metadata in the file, so their events come
/// through TraceEvent's CLR and rundown parsers, which know their names.</summary>
internal sealed class TraceReader
{
    private const string MetricsProvider = KnownProviders.Metrics;
    private const string SessionIdMessage = "SessionId argument received: ";
    private const int MaxAnomaliesKept = 20;
    private const ulong MaxPfn = 1UL << 40; // 52-bit physical addresses
    private const ulong PageMask = 4095;

    private readonly Dictionary<(string Provider, string Name), long> _eventCounts = new();
    private readonly long[] _allocatedByLevel = new long[6];
    private readonly long[] _freedByLevel = new long[6];
    private readonly Dictionary<ulong, SpaceAccumulator> _spaces = new();
    private readonly Dictionary<string, OperationAccumulator> _operations = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Thread, ulong Space), OperationAccumulator> _lastOperation = new();

    // Hot-add, hot-remove and HVO batches are Start/Stop activities: the flushes a thread issues inside one belong
    // to it (a hot-remove flushes the kernel and every address space), whatever the last range operation was.
    private readonly Dictionary<int, OperationAccumulator> _activeActivity = new();
    private readonly Dictionary<FlushKind, long> _flushesByKind = new();
    private readonly Dictionary<FaultReason, long> _faultsByReason = new();
    private readonly Dictionary<AccessKind, long> _faultsByAccess = new();
    private readonly Dictionary<string, ActivityAccumulator> _activities = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Instrument, string Tags), MetricAccumulator> _metrics = new();

    private long _totalEvents, _fastPtEvents;
    private double _firstEvent = double.NaN, _lastEvent;
    private long _tablesAllocated, _tablesFreed, _kernelAllocated, _kernelFreed, _splits;
    private long _memmapFramesFreed, _vmemmapPagesFreed;
    private long _flushes, _contextsNotified, _catchUps, _requestsApplied, _fullResyncs, _unattributedFlushes;
    private long _faults;
    private long _gracePeriods, _callbacksRun, _tablesDeferred, _headsQueued;
    private long _lockContended, _lockSpins;
    private readonly List<string> _anomalies = new();
    private readonly List<TraceNote> _notes = new();
    private readonly HashSet<string> _metricsSessionsRequested = new(StringComparer.Ordinal);
    private readonly HashSet<string> _metricsSessionsRunning = new(StringComparer.Ordinal);
    private long _anomalyCount;

    /// <summary>Below this file size an out-of-memory while parsing can only come from a damaged size field.</summary>
    private const long MaxPlausibleAllocation = 256L << 20;

    public static TraceSummary Summarise(Stream stream, string name)
    {
        var reader = new TraceReader();
        long length = stream.CanSeek ? stream.Length : -1;
        // An empty file (or /dev/null) is not a truncated trace: it never was one.
        if (length == 0) throw new TraceFormatException(name, "the file is empty (0 bytes): not a .nettrace, or one truncated to nothing", null);
        long eventsLost;
#pragma warning disable CA1031 // TraceEvent reports damage with many exception types; each becomes one clear error.
        try
        {
            using var source = new EventPipeEventSource(stream);
            source.Dynamic.All += reader.OnEvent;
            source.Clr.All += reader.OnEvent;
            new ClrRundownTraceEventParser(source).All += reader.OnEvent;
            source.Process();
            eventsLost = source.EventsLost;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            throw new TraceFormatException(name, Describe(exception, length), exception);
        }
        catch (OutOfMemoryException exception) when (length >= 0 && length < MaxPlausibleAllocation)
        {
            // A damaged size or count field makes the parser ask for an array larger than the whole file could
            // fill: that is corruption, not a lack of memory (a real shortage still propagates for large traces).
            throw new TraceFormatException(name, string.Create(CultureInfo.InvariantCulture,
                $"the trace is corrupt ({length:N0} bytes): a size field in it asks for more memory than the file could hold"), exception);
        }
#pragma warning restore CA1031
        if (reader._totalEvents == 0)
            throw new TraceFormatException(name, "the trace holds no events at all (an EventPipe session always writes some): it is empty or cut short", null);
        return reader.Build(name, eventsLost);
    }

    private static string Describe(Exception exception, long length)
    {
        string where = length >= 0 ? string.Create(CultureInfo.InvariantCulture, $" ({length:N0} bytes)") : "";
        return exception switch
        {
            FormatException when exception.Message.Contains("past end", StringComparison.OrdinalIgnoreCase) =>
                $"the trace is truncated{where}: it ends in the middle of a block ({exception.Message})",
            FormatException when exception.Message.Contains("header", StringComparison.OrdinalIgnoreCase) =>
                $"not a .nettrace file{where}: {exception.Message}",
            EndOfStreamException => $"the trace is truncated{where}: {exception.Message}",
            _ => $"the trace is corrupt{where}: {exception.GetType().Name}: {exception.Message}",
        };
    }

    private void OnEvent(TraceEvent data)
    {
        _totalEvents++;
        double time = data.TimeStampRelativeMSec;
        if (double.IsNaN(_firstEvent)) _firstEvent = time;
        _lastEvent = Math.Max(_lastEvent, time);
        string provider = data.ProviderName ?? "";
        string eventName = data.EventName ?? "";
        (string, string) key = (provider, eventName);
        _eventCounts[key] = _eventCounts.GetValueOrDefault(key) + 1;

        if (provider == TraceSummary.ProviderName)
        {
            _fastPtEvents++;
            OnFastPtEvent(data, eventName, time);
        }
        else if (provider == MetricsProvider)
        {
            OnMetricsEvent(data, eventName);
        }
    }

    private void OnFastPtEvent(TraceEvent data, string eventName, double time)
    {
        if (data.Opcode is TraceEventOpcode.Start or TraceEventOpcode.Stop)
        {
            OnActivityEvent(data, time);
            return;
        }
        switch (eventName)
        {
            case "TableAlloc":
            {
                CheckTable(data, eventName, time);
                int level = LevelIndex(Int(data, "level"));
                bool kernel = Bool(data, "kernel");
                _tablesAllocated++;
                _allocatedByLevel[level]++;
                if (kernel) _kernelAllocated++;
                Space(U64(data, "space"), kernel).TablesAllocated++;
                break;
            }
            case "TableFree":
            {
                CheckTable(data, eventName, time);
                int level = LevelIndex(Int(data, "level"));
                bool kernel = Bool(data, "kernel");
                _tablesFreed++;
                _freedByLevel[level]++;
                if (kernel) _kernelFreed++;
                Space(U64(data, "space"), kernel).TablesFreed++;
                break;
            }
            case "MapRange":
            {
                CheckRange(data, eventName, time);
                CheckCount(data, eventName, time, "leaves");
                CheckCount(data, eventName, time, "tablesAllocated");
                SpaceAccumulator space = Space(U64(data, "space"));
                long length = I64(data, "length");
                long leaves = I64(data, "leaves");
                space.Maps++;
                space.BytesMapped += length;
                space.LeavesMapped += leaves;
                OperationAccumulator operation = Operation("map");
                operation.Count++;
                operation.Bytes += length;
                operation.Leaves += leaves;
                operation.Tables += I64(data, "tablesAllocated");
                _lastOperation[(data.ThreadID, space.Id)] = operation;
                break;
            }
            case "UnmapRange":
            {
                CheckRange(data, eventName, time);
                CheckCount(data, eventName, time, "tablesFreed");
                SpaceAccumulator space = Space(U64(data, "space"));
                long length = I64(data, "length");
                space.Unmaps++;
                space.BytesUnmapped += length;
                OperationAccumulator operation = Operation("unmap");
                operation.Count++;
                operation.Bytes += length;
                operation.Tables += I64(data, "tablesFreed");
                _lastOperation[(data.ThreadID, space.Id)] = operation;
                break;
            }
            case "ProtectRange":
            {
                CheckRange(data, eventName, time);
                if ((Int(data, "protection") & ~(int)Protection.All) != 0) Anomaly(data, eventName, time, "protection");
                SpaceAccumulator space = Space(U64(data, "space"));
                long length = I64(data, "length");
                space.Protects++;
                OperationAccumulator operation = Operation("protect");
                operation.Count++;
                operation.Bytes += length;
                _lastOperation[(data.ThreadID, space.Id)] = operation;
                break;
            }
            case "AddressSpaceTeardown":
            {
                if (I64(data, "tables") < 1) Anomaly(data, eventName, time, "tables");
                SpaceAccumulator space = Space(U64(data, "space"));
                space.TornDown = true;
                OperationAccumulator operation = Operation("teardown");
                operation.Count++;
                operation.Tables += I64(data, "tables");
                _lastOperation[(data.ThreadID, space.Id)] = operation;
                break;
            }
            case "TableSplit":
                if (Int(data, "level") is not (2 or 3)) Anomaly(data, eventName, time, "level");
                else if ((U64(data, "address") & ((1UL << (12 + 9 * (Int(data, "level") - 1))) - 1)) != 0) Anomaly(data, eventName, time, "address");
                _splits++;
                Space(U64(data, "space")).Splits++;
                break;
            case "TlbFlush":
            {
                ulong spaceId = U64(data, "space");
                var kind = (FlushKind)Int(data, "kind");
                if (!Enum.IsDefined(kind)) Anomaly(data, eventName, time, "kind");
                // An end of 0 is 2^64: a flush that includes the top page of a guest's higher half.
                ulong flushEnd = U64(data, "end");
                if (flushEnd != 0 && flushEnd < U64(data, "start")) Anomaly(data, eventName, time, "end");
                CheckCount(data, eventName, time, "contexts");
                SpaceAccumulator space = Space(spaceId);
                _flushes++;
                _contextsNotified += Int(data, "contexts");
                Increment(_flushesByKind, kind);
                space.Flushes++;
                Increment(space.FlushesByKind, kind);
                if (_activeActivity.TryGetValue(data.ThreadID, out OperationAccumulator? operation)
                    || _lastOperation.TryGetValue((data.ThreadID, spaceId), out operation))
                {
                    operation.Flushes++;
                    Increment(operation.FlushesByKind, kind);
                }
                else
                {
                    _unattributedFlushes++;
                }
                break;
            }
            case "ContextInvalidated":
                CheckCount(data, eventName, time, "requests");
                _catchUps++;
                _requestsApplied += I64(data, "requests");
                if (Bool(data, "full")) _fullResyncs++;
                break;
            case "PageFault":
                if (!Enum.IsDefined((FaultReason)Int(data, "reason"))) Anomaly(data, eventName, time, "reason");
                if (!Enum.IsDefined((AccessKind)Int(data, "access"))) Anomaly(data, eventName, time, "access");
                _faults++;
                Space(U64(data, "space")).Faults++;
                Increment(_faultsByReason, (FaultReason)Int(data, "reason"));
                Increment(_faultsByAccess, (AccessKind)Int(data, "access"));
                break;
            case "GracePeriod":
                CheckCount(data, eventName, time, "callbacks");
                _gracePeriods++;
                _callbacksRun += Int(data, "callbacks");
                break;
            case "TableDeferred":
                _tablesDeferred++;
                if (Bool(data, "queued")) _headsQueued++;
                break;
            case "LockContended":
                _lockContended++;
                _lockSpins += Int(data, "spins");
                break;
        }
    }

    private void OnActivityEvent(TraceEvent data, double time)
    {
        string task = TaskOf(data);
        if (!_activities.TryGetValue(task, out ActivityAccumulator? activity))
            _activities[task] = activity = new ActivityAccumulator(task);
        // Pairs nest per thread; when both ends carry a start address, it must match too (a Stop for another
        // range does not close this one).
        int addressIndex = Array.IndexOf(data.PayloadNames, "start");
        ulong address = addressIndex >= 0 ? ToU64(data.PayloadValue(addressIndex)) : 0;
        var key = (data.ThreadID, addressIndex >= 0, address);
        string? operationName = task switch
        {
            "HotAdd" => "hot-add",
            "HotRemove" => "hot-remove",
            "VmemmapBatch" => "vmemmap batch",
            _ => null,
        };
        if (data.Opcode == TraceEventOpcode.Start)
        {
            if (!activity.Open.TryGetValue(key, out Stack<double>? starts)) activity.Open[key] = starts = new Stack<double>();
            starts.Push(time);
            if (operationName is not null)
            {
                OperationAccumulator operation = Operation(operationName);
                operation.Count++;
                int sizeIndex = Array.IndexOf(data.PayloadNames, "size");
                if (sizeIndex >= 0) operation.Bytes += (long)ToU64(data.PayloadValue(sizeIndex));
                _activeActivity[data.ThreadID] = operation;
            }
            return;
        }
        if (operationName is not null) _activeActivity.Remove(data.ThreadID);
        if (activity.Open.TryGetValue(key, out Stack<double>? open) && open.Count > 0)
            activity.Durations.Add(TimeSpan.FromMilliseconds(Math.Max(0, time - open.Pop())));
        else
            activity.UnmatchedStops++;
        // The Stop events that report frees give the bytes freed.
        if (task == "HotRemove") _memmapFramesFreed += I64(data, "memmapFramesFreed");
        else if (task == "VmemmapBatch") _vmemmapPagesFreed += I64(data, "pagesFreed");
        for (int i = 0; i < data.PayloadNames.Length; i++)
        {
            string field = data.PayloadNames[i];
            if (field is "start" or "size") continue;
            object? value = data.PayloadValue(i);
            double number = value switch
            {
                bool flag => flag ? 1 : 0,
                IConvertible convertible when value is not string => convertible.ToDouble(CultureInfo.InvariantCulture),
                _ => double.NaN,
            };
            if (double.IsNaN(number)) continue;
            if (number < 0) Anomaly(data, data.EventName ?? task, time, field);
            activity.StopTotals[field] = activity.StopTotals.GetValueOrDefault(field) + number;
        }
    }

    // ---------------------------------------------------------------- plausibility of payloads
    // A .nettrace has no checksums: damage inside an event's payload still parses. Values no engine can produce
    // are reported as anomalies instead of being summed silently.

    private void CheckTable(TraceEvent data, string eventName, double time)
    {
        if (Int(data, "level") is < 1 or > 5) Anomaly(data, eventName, time, "level");
        if (U64(data, "pfn") >= MaxPfn) Anomaly(data, eventName, time, "pfn");
    }

    private void CheckRange(TraceEvent data, string eventName, double time)
    {
        ulong address = U64(data, "address"), length = U64(data, "length");
        if ((address & PageMask) != 0) Anomaly(data, eventName, time, "address");
        // A range may end exactly at 2^64 (a guest's top page); only one that runs past it is impossible.
        if (length == 0 || (length & PageMask) != 0 || length - 1 > ulong.MaxValue - address) Anomaly(data, eventName, time, "length");
    }

    private void CheckCount(TraceEvent data, string eventName, double time, string field)
    {
        if (I64(data, field) < 0) Anomaly(data, eventName, time, field);
    }

    private void Anomaly(TraceEvent data, string eventName, double time, string field)
    {
        _anomalyCount++;
        if (_anomalies.Count < MaxAnomaliesKept)
            _anomalies.Add(string.Create(CultureInfo.InvariantCulture, $"{eventName} at {time:F3} ms: impossible {field} = {Field(data, field)}"));
    }

    private static string TaskOf(TraceEvent data)
    {
        string? task = data.TaskName;
        if (!string.IsNullOrEmpty(task)) return task;
        // Without a task name, "HotAdd/Start" or "HotAddStart" still names it.
        string name = data.EventName ?? "";
        int slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0) return name[..slash];
        foreach (string suffix in new[] { "Start", "Stop" })
            if (name.EndsWith(suffix, StringComparison.Ordinal)) return name[..^suffix.Length];
        return name;
    }

    private void OnMetricsEvent(TraceEvent data, string eventName)
    {
        string kind;
        string valueField;
        switch (eventName)
        {
            case "Message":
                string message = Text(data, "Message");
                if (message.StartsWith(SessionIdMessage, StringComparison.Ordinal)) _metricsSessionsRequested.Add(message[SessionIdMessage.Length..]);
                return;
            case "MultipleSessionsNotSupportedError":
                _metricsSessionsRunning.Add(Text(data, "runningSessionId"));
                return;
            case "MultipleSessionsConfiguredIncorrectlyError":
                AddNote(TraceNoteSeverity.Warning,
                    "System.Diagnostics.Metrics refused a second, differently configured session: the Meter values come from the first one only.");
                return;
            case "ObservableInstrumentCallbackError":
            case "Error":
                AddNote(TraceNoteSeverity.Warning, $"System.Diagnostics.Metrics reported {eventName}: {Text(data, "errorMessage")}");
                return;
            case "TimeSeriesLimitReached":
            case "HistogramLimitReached":
                AddNote(TraceNoteSeverity.Warning, $"System.Diagnostics.Metrics reported {eventName}: some instruments were not published.");
                return;
            case "GaugeValuePublished":
                kind = "gauge";
                valueField = "lastValue";
                break;
            case "UpDownCounterRateValuePublished":
                kind = "up-down counter";
                valueField = "value";
                break;
            case "CounterRateValuePublished":
                kind = "counter";
                valueField = "value";
                break;
            default:
                return;
        }
        if (Text(data, "meterName") != FastPt.Diagnostics.FastPtMeter.MeterName) return;
        if (!double.TryParse(Text(data, valueField), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return;
        string instrument = Text(data, "instrumentName");
        string tags = Text(data, "tags");
        if (!_metrics.TryGetValue((instrument, tags), out MetricAccumulator? metric))
        {
            _metrics[(instrument, tags)] = metric = new MetricAccumulator
            {
                Instrument = instrument, Tags = tags, Unit = Text(data, "unit"), Kind = kind,
                Minimum = double.PositiveInfinity, Maximum = double.NegativeInfinity,
            };
        }
        metric.Samples++;
        metric.Last = value;
        metric.Minimum = Math.Min(metric.Minimum, value);
        metric.Maximum = Math.Max(metric.Maximum, value);
    }

    private void AddNote(TraceNoteSeverity severity, string text)
    {
        if (!_notes.Exists(note => note.Text == text)) _notes.Add(new TraceNote(severity, text));
    }

    /// <summary>System.Diagnostics.Metrics answers every enable request for a session while one runs with
    /// MultipleSessionsNotSupportedError naming the running session. When that is the session this trace asked for
    /// (EventPipe delivers its enable request more than once), it is harmless — dotnet-counters ignores it too; when
    /// it is another, that session held the Meter and this trace has none of its own values.</summary>
    private void NoteMetricsSessions()
    {
        foreach (string running in _metricsSessionsRunning.Order(StringComparer.Ordinal))
        {
            if (_metricsSessionsRequested.Contains(running))
            {
                AddNote(TraceNoteSeverity.Information,
                    $"MultipleSessionsNotSupportedError (System.Diagnostics.Metrics) names session '{running}', this trace's own: the "
                    + "source got its enable request twice and kept the session running. Harmless.");
            }
            else
            {
                AddNote(TraceNoteSeverity.Warning,
                    $"Another metrics session ('{running}', e.g. a dotnet-counters still attached) held the process's Meters, so this trace's own "
                    + "session published no Meter values: stop the other tool first.");
            }
        }
    }

    private ProviderSummary[] Providers() =>
        _eventCounts
            .GroupBy(pair => pair.Key.Provider, StringComparer.Ordinal)
            .Select(group => new ProviderSummary(group.Key, group.Sum(pair => pair.Value), group.Count(), KnownProviders.Describe(group.Key)))
            .OrderBy(provider => provider.Name == TraceSummary.ProviderName ? 0 : 1)
            .ThenByDescending(provider => provider.Events)
            .ThenBy(provider => provider.Name, StringComparer.Ordinal)
            .ToArray();

    private TraceSummary Build(string name, long eventsLost)
    {
        NoteMetricsSessions();
        string[] operationOrder = ["map", "unmap", "protect", "teardown"];
        return new TraceSummary
        {
            Source = name,
            Duration = double.IsNaN(_firstEvent) ? TimeSpan.Zero : TimeSpan.FromMilliseconds(_lastEvent - _firstEvent),
            TotalEvents = _totalEvents,
            FastPtEvents = _fastPtEvents,
            EventsLost = eventsLost,
            AnomalyCount = _anomalyCount,
            Anomalies = _anomalies.ToArray(),
            Providers = Providers(),
            Notes = _notes.ToArray(),
            Events = _eventCounts
                .OrderBy(pair => pair.Key.Provider == TraceSummary.ProviderName ? 0 : 1)
                .ThenBy(pair => pair.Key.Provider, StringComparer.Ordinal)
                .ThenByDescending(pair => pair.Value)
                .ThenBy(pair => pair.Key.Name, StringComparer.Ordinal)
                .Select(pair => new EventCount(pair.Key.Provider, pair.Key.Name, pair.Value))
                .ToArray(),
            Tables = new PageTableSummary
            {
                Allocated = _tablesAllocated,
                Freed = _tablesFreed,
                KernelAllocated = _kernelAllocated,
                KernelFreed = _kernelFreed,
                AllocatedByLevel = _allocatedByLevel,
                FreedByLevel = _freedByLevel,
                Splits = _splits,
            },
            Freed = new FreedMemory
            {
                PageTableBytes = _tablesFreed * FreedMemory.PageBytes,
                MemmapBytes = _memmapFramesFreed * FreedMemory.PageBytes,
                VmemmapBytes = _vmemmapPagesFreed * FreedMemory.PageBytes,
            },
            Flushes = new FlushSummary
            {
                Total = _flushes,
                ByKind = AllKinds(_flushesByKind),
                ContextsNotified = _contextsNotified,
                ContextCatchUps = _catchUps,
                RequestsApplied = _requestsApplied,
                FullResyncs = _fullResyncs,
            },
            Operations = _operations.Values
                .OrderBy(operation => Array.IndexOf(operationOrder, operation.Name))
                .Select(operation => new OperationSummary
                {
                    Name = operation.Name,
                    Count = operation.Count,
                    Bytes = operation.Bytes,
                    Leaves = operation.Leaves,
                    Tables = operation.Tables,
                    Flushes = operation.Flushes,
                    FlushesByKind = AllKinds(operation.FlushesByKind),
                })
                .ToArray(),
            UnattributedFlushes = _unattributedFlushes,
            Spaces = _spaces.Values
                .OrderBy(space => space.Id)
                .Select(space => new SpaceSummary
                {
                    Id = space.Id,
                    Kernel = space.Kernel,
                    Maps = space.Maps,
                    Unmaps = space.Unmaps,
                    Protects = space.Protects,
                    BytesMapped = space.BytesMapped,
                    BytesUnmapped = space.BytesUnmapped,
                    LeavesMapped = space.LeavesMapped,
                    TablesAllocated = space.TablesAllocated,
                    TablesFreed = space.TablesFreed,
                    Splits = space.Splits,
                    Flushes = space.Flushes,
                    FlushesByKind = AllKinds(space.FlushesByKind),
                    Faults = space.Faults,
                    TornDown = space.TornDown,
                })
                .ToArray(),
            Faults = new FaultSummary { Total = _faults, ByReason = new SortedDictionary<FaultReason, long>(_faultsByReason), ByAccess = new SortedDictionary<AccessKind, long>(_faultsByAccess) },
            Rcu = new RcuSummary { GracePeriods = _gracePeriods, CallbacksRun = _callbacksRun, TablesDeferred = _tablesDeferred, HeadsQueued = _headsQueued },
            Locks = new LockSummary { Contended = _lockContended, Spins = _lockSpins },
            Activities = _activities.Values
                .OrderBy(activity => activity.Name, StringComparer.Ordinal)
                .Select(activity => new ActivitySummary
                {
                    Name = activity.Name,
                    Completed = activity.Durations.Count,
                    UnmatchedStarts = activity.Open.Values.Sum(starts => starts.Count),
                    UnmatchedStops = activity.UnmatchedStops,
                    Latency = LatencyHistogram.FromDurations(activity.Durations),
                    StopTotals = new SortedDictionary<string, double>(activity.StopTotals, StringComparer.Ordinal),
                })
                .ToArray(),
            Metrics = _metrics.Values
                .OrderBy(metric => metric.Instrument, StringComparer.Ordinal)
                .ThenBy(metric => metric.Tags, StringComparer.Ordinal)
                .Select(metric => new MetricSummary
                {
                    Instrument = metric.Instrument,
                    Tags = metric.Tags,
                    Unit = metric.Unit,
                    Kind = metric.Kind,
                    Samples = metric.Samples,
                    Last = metric.Last,
                    Minimum = metric.Minimum,
                    Maximum = metric.Maximum,
                })
                .ToArray(),
        };
    }

    // Every kind, zero included, in kind order (the JSON writes a dictionary in its own order).
    private static SortedDictionary<FlushKind, long> AllKinds(Dictionary<FlushKind, long> counts)
    {
        var all = new SortedDictionary<FlushKind, long>();
        foreach (FlushKind kind in Enum.GetValues<FlushKind>()) all[kind] = 0;
        foreach (KeyValuePair<FlushKind, long> pair in counts) all[pair.Key] = pair.Value;
        return all;
    }

    private SpaceAccumulator Space(ulong id, bool kernel = false)
    {
        if (!_spaces.TryGetValue(id, out SpaceAccumulator? space)) _spaces[id] = space = new SpaceAccumulator(id);
        space.Kernel |= kernel;
        return space;
    }

    private OperationAccumulator Operation(string name)
    {
        if (!_operations.TryGetValue(name, out OperationAccumulator? operation)) _operations[name] = operation = new OperationAccumulator(name);
        return operation;
    }

    private static void Increment<TKey>(Dictionary<TKey, long> counts, TKey key) where TKey : notnull =>
        counts[key] = counts.GetValueOrDefault(key) + 1;

    private static int LevelIndex(int level) => level is >= 0 and <= 5 ? level : 0;

    // ---------------------------------------------------------------- payload access by field name

    private static object? Field(TraceEvent data, string name)
    {
        int index = Array.IndexOf(data.PayloadNames, name);
        return index < 0 ? null : data.PayloadValue(index);
    }

    private static ulong U64(TraceEvent data, string name) => ToU64(Field(data, name));

    private static long I64(TraceEvent data, string name) => unchecked((long)ToU64(Field(data, name)));

    private static int Int(TraceEvent data, string name) => unchecked((int)ToU64(Field(data, name)));

    private static bool Bool(TraceEvent data, string name) => ToU64(Field(data, name)) != 0;

    private static string Text(TraceEvent data, string name) => Field(data, name) as string ?? "";

    private static ulong ToU64(object? value) => value switch
    {
        ulong u => u,
        long l => unchecked((ulong)l),
        uint u => u,
        int i => unchecked((ulong)(long)i),
        ushort s => s,
        short s => unchecked((ulong)(long)s),
        byte b => b,
        bool flag => flag ? 1UL : 0UL,
        _ => 0,
    };

    // ---------------------------------------------------------------- accumulators

    private sealed class SpaceAccumulator(ulong id)
    {
        public ulong Id { get; } = id;
        public bool Kernel;
        public long Maps, Unmaps, Protects, BytesMapped, BytesUnmapped, LeavesMapped;
        public long TablesAllocated, TablesFreed, Splits, Flushes, Faults;
        public bool TornDown;
        public readonly Dictionary<FlushKind, long> FlushesByKind = new();
    }

    private sealed class OperationAccumulator(string name)
    {
        public string Name { get; } = name;
        public long Count, Bytes, Leaves, Tables, Flushes;
        public readonly Dictionary<FlushKind, long> FlushesByKind = new();
    }

    private sealed class ActivityAccumulator(string name)
    {
        public string Name { get; } = name;
        public readonly Dictionary<(int Thread, bool HasAddress, ulong Address), Stack<double>> Open = new();
        public readonly List<TimeSpan> Durations = new();
        public readonly Dictionary<string, double> StopTotals = new(StringComparer.Ordinal);
        public long UnmatchedStops;
    }

    private sealed class MetricAccumulator
    {
        public string Instrument = "", Tags = "", Unit = "", Kind = "";
        public long Samples;
        public double Last, Minimum, Maximum;
    }
}
