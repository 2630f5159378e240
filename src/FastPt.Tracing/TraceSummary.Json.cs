using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace FastPt.Tracing;

/// <summary>The summary as one JSON document: numbers stay numbers, durations are in microseconds, enum keys are
/// names.</summary>
public sealed partial record TraceSummary
{
    /// <summary>The summary as indented JSON.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        WriteJson(buffer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes the summary as indented UTF-8 JSON to <paramref name="utf8Json"/>.</summary>
    public void WriteJson(Stream utf8Json)
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        using var json = new Utf8JsonWriter(utf8Json, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("source", Source);
        json.WriteNumber("durationMicroseconds", Duration.TotalMicroseconds);
        json.WriteNumber("totalEvents", TotalEvents);
        json.WriteNumber("fastPtEvents", FastPtEvents);
        json.WriteNumber("eventsLost", EventsLost);
        json.WriteNumber("anomalyCount", AnomalyCount);
        json.WriteStartArray("anomalies");
        foreach (string anomaly in Anomalies) json.WriteStringValue(anomaly);
        json.WriteEndArray();

        json.WriteStartArray("providers");
        foreach (ProviderSummary provider in Providers)
        {
            json.WriteStartObject();
            json.WriteString("name", provider.Name);
            json.WriteNumber("events", provider.Events);
            json.WriteNumber("kinds", provider.Kinds);
            json.WriteString("role", provider.Role);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("notes");
        foreach (TraceNote note in Notes)
        {
            json.WriteStartObject();
            json.WriteString("severity", note.Severity == TraceNoteSeverity.Warning ? "warning" : "information");
            json.WriteString("text", note.Text);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("events");
        foreach (EventCount count in Events)
        {
            json.WriteStartObject();
            json.WriteString("provider", count.Provider);
            json.WriteString("name", count.Name);
            json.WriteNumber("count", count.Count);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartObject("tables");
        json.WriteNumber("allocated", Tables.Allocated);
        json.WriteNumber("freed", Tables.Freed);
        json.WriteNumber("kernelAllocated", Tables.KernelAllocated);
        json.WriteNumber("kernelFreed", Tables.KernelFreed);
        WriteNumbers(json, "allocatedByLevel", Tables.AllocatedByLevel);
        WriteNumbers(json, "freedByLevel", Tables.FreedByLevel);
        json.WriteNumber("splits", Tables.Splits);
        json.WriteEndObject();

        json.WriteStartObject("bytesFreed");
        json.WriteNumber("pageTables", Freed.PageTableBytes);
        json.WriteNumber("memmap", Freed.MemmapBytes);
        json.WriteNumber("vmemmap", Freed.VmemmapBytes);
        json.WriteNumber("total", Freed.Total);
        json.WriteEndObject();

        json.WriteStartObject("flushes");
        json.WriteNumber("total", Flushes.Total);
        WriteCounts(json, "byKind", Flushes.ByKind);
        json.WriteNumber("contextsNotified", Flushes.ContextsNotified);
        json.WriteNumber("contextCatchUps", Flushes.ContextCatchUps);
        json.WriteNumber("requestsApplied", Flushes.RequestsApplied);
        json.WriteNumber("fullResyncs", Flushes.FullResyncs);
        json.WriteNumber("unattributed", UnattributedFlushes);
        json.WriteEndObject();

        json.WriteStartArray("operations");
        foreach (OperationSummary operation in Operations)
        {
            json.WriteStartObject();
            json.WriteString("name", operation.Name);
            json.WriteNumber("count", operation.Count);
            json.WriteNumber("bytes", operation.Bytes);
            json.WriteNumber("leaves", operation.Leaves);
            json.WriteNumber("tables", operation.Tables);
            json.WriteNumber("flushes", operation.Flushes);
            WriteCounts(json, "flushesByKind", operation.FlushesByKind);
            json.WriteNumber("flushesPerOperation", operation.FlushesPerOperation);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("spaces");
        foreach (SpaceSummary space in Spaces)
        {
            json.WriteStartObject();
            json.WriteNumber("id", space.Id);
            json.WriteBoolean("kernel", space.Kernel);
            json.WriteNumber("maps", space.Maps);
            json.WriteNumber("unmaps", space.Unmaps);
            json.WriteNumber("protects", space.Protects);
            json.WriteNumber("bytesMapped", space.BytesMapped);
            json.WriteNumber("bytesUnmapped", space.BytesUnmapped);
            json.WriteNumber("leavesMapped", space.LeavesMapped);
            json.WriteNumber("tablesAllocated", space.TablesAllocated);
            json.WriteNumber("tablesFreed", space.TablesFreed);
            json.WriteNumber("splits", space.Splits);
            json.WriteNumber("flushes", space.Flushes);
            WriteCounts(json, "flushesByKind", space.FlushesByKind);
            json.WriteNumber("faults", space.Faults);
            json.WriteBoolean("tornDown", space.TornDown);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartObject("faults");
        json.WriteNumber("total", Faults.Total);
        WriteCounts(json, "byReason", Faults.ByReason);
        WriteCounts(json, "byAccess", Faults.ByAccess);
        json.WriteEndObject();

        json.WriteStartObject("rcu");
        json.WriteNumber("gracePeriods", Rcu.GracePeriods);
        json.WriteNumber("callbacksRun", Rcu.CallbacksRun);
        json.WriteNumber("tablesDeferred", Rcu.TablesDeferred);
        json.WriteNumber("headsQueued", Rcu.HeadsQueued);
        json.WriteEndObject();

        json.WriteStartObject("locks");
        json.WriteNumber("contended", Locks.Contended);
        json.WriteNumber("spins", Locks.Spins);
        json.WriteEndObject();

        json.WriteStartArray("activities");
        foreach (ActivitySummary activity in Activities)
        {
            json.WriteStartObject();
            json.WriteString("name", activity.Name);
            json.WriteNumber("completed", activity.Completed);
            json.WriteNumber("unmatchedStarts", activity.UnmatchedStarts);
            json.WriteNumber("unmatchedStops", activity.UnmatchedStops);
            WriteHistogram(json, activity.Latency);
            json.WriteStartObject("stopTotals");
            foreach (KeyValuePair<string, double> total in activity.StopTotals.OrderBy(pair => pair.Key, StringComparer.Ordinal))
                json.WriteNumber(total.Key, total.Value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("metrics");
        foreach (MetricSummary metric in Metrics)
        {
            json.WriteStartObject();
            json.WriteString("instrument", metric.Instrument);
            json.WriteString("tags", metric.Tags);
            json.WriteString("unit", metric.Unit);
            json.WriteString("kind", metric.Kind);
            json.WriteNumber("samples", metric.Samples);
            json.WriteNumber("last", metric.Last);
            json.WriteNumber("minimum", metric.Minimum);
            json.WriteNumber("maximum", metric.Maximum);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteHistogram(Utf8JsonWriter json, LatencyHistogram histogram)
    {
        json.WriteStartObject("latency");
        json.WriteNumber("count", histogram.Count);
        json.WriteNumber("minimumMicroseconds", histogram.Minimum.TotalMicroseconds);
        json.WriteNumber("medianMicroseconds", histogram.Median.TotalMicroseconds);
        json.WriteNumber("p99Microseconds", histogram.P99.TotalMicroseconds);
        json.WriteNumber("maximumMicroseconds", histogram.Maximum.TotalMicroseconds);
        json.WriteStartArray("buckets");
        foreach (HistogramBucket bucket in histogram.Buckets)
        {
            json.WriteStartObject();
            json.WriteNumber("fromMicroseconds", bucket.LowerMicroseconds);
            json.WriteNumber("toMicroseconds", bucket.UpperMicroseconds);
            json.WriteNumber("count", bucket.Count);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteNumbers(Utf8JsonWriter json, string name, IReadOnlyList<long> values)
    {
        json.WriteStartArray(name);
        foreach (long value in values) json.WriteNumberValue(value);
        json.WriteEndArray();
    }

    private static void WriteCounts<TKey>(Utf8JsonWriter json, string name, IReadOnlyDictionary<TKey, long> counts) where TKey : struct, Enum
    {
        json.WriteStartObject(name);
        foreach (KeyValuePair<TKey, long> pair in counts.OrderBy(pair => pair.Key)) json.WriteNumber(pair.Key.ToString(), pair.Value);
        json.WriteEndObject();
    }
}
