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

        WriteObjects(json, "providers", Providers, static (w, provider) =>
        {
            w.WriteString("name", provider.Name);
            w.WriteNumber("events", provider.Events);
            w.WriteNumber("kinds", provider.Kinds);
            w.WriteString("role", provider.Role);
        });
        WriteObjects(json, "notes", Notes, static (w, note) =>
        {
            w.WriteString("severity", note.Severity == TraceNoteSeverity.Warning ? "warning" : "information");
            w.WriteString("text", note.Text);
        });
        WriteObjects(json, "events", Events, static (w, count) =>
        {
            w.WriteString("provider", count.Provider);
            w.WriteString("name", count.Name);
            w.WriteNumber("count", count.Count);
        });
        WriteObject(json, "tables", Tables, static (w, tables) =>
        {
            w.WriteNumber("allocated", tables.Allocated);
            w.WriteNumber("freed", tables.Freed);
            w.WriteNumber("kernelAllocated", tables.KernelAllocated);
            w.WriteNumber("kernelFreed", tables.KernelFreed);
            WriteNumbers(w, "allocatedByLevel", tables.AllocatedByLevel);
            WriteNumbers(w, "freedByLevel", tables.FreedByLevel);
            w.WriteNumber("splits", tables.Splits);
        });
        WriteObject(json, "bytesFreed", Freed, static (w, freed) =>
        {
            w.WriteNumber("pageTables", freed.PageTableBytes);
            w.WriteNumber("memmap", freed.MemmapBytes);
            w.WriteNumber("vmemmap", freed.VmemmapBytes);
            w.WriteNumber("total", freed.Total);
        });
        WriteObject(json, "flushes", this, static (w, summary) =>
        {
            w.WriteNumber("total", summary.Flushes.Total);
            WriteCounts(w, "byKind", summary.Flushes.ByKind);
            w.WriteNumber("contextsNotified", summary.Flushes.ContextsNotified);
            w.WriteNumber("contextCatchUps", summary.Flushes.ContextCatchUps);
            w.WriteNumber("requestsApplied", summary.Flushes.RequestsApplied);
            w.WriteNumber("fullResyncs", summary.Flushes.FullResyncs);
            w.WriteNumber("unattributed", summary.UnattributedFlushes);
        });
        WriteObjects(json, "operations", Operations, static (w, operation) =>
        {
            w.WriteString("name", operation.Name);
            w.WriteNumber("count", operation.Count);
            w.WriteNumber("bytes", operation.Bytes);
            w.WriteNumber("leaves", operation.Leaves);
            w.WriteNumber("tables", operation.Tables);
            w.WriteNumber("flushes", operation.Flushes);
            WriteCounts(w, "flushesByKind", operation.FlushesByKind);
            w.WriteNumber("flushesPerOperation", operation.FlushesPerOperation);
        });
        WriteObjects(json, "spaces", Spaces, static (w, space) =>
        {
            w.WriteNumber("id", space.Id);
            w.WriteBoolean("kernel", space.Kernel);
            w.WriteNumber("maps", space.Maps);
            w.WriteNumber("unmaps", space.Unmaps);
            w.WriteNumber("protects", space.Protects);
            w.WriteNumber("bytesMapped", space.BytesMapped);
            w.WriteNumber("bytesUnmapped", space.BytesUnmapped);
            w.WriteNumber("leavesMapped", space.LeavesMapped);
            w.WriteNumber("tablesAllocated", space.TablesAllocated);
            w.WriteNumber("tablesFreed", space.TablesFreed);
            w.WriteNumber("splits", space.Splits);
            w.WriteNumber("flushes", space.Flushes);
            WriteCounts(w, "flushesByKind", space.FlushesByKind);
            w.WriteNumber("faults", space.Faults);
            w.WriteBoolean("tornDown", space.TornDown);
        });
        WriteObject(json, "faults", Faults, static (w, faults) =>
        {
            w.WriteNumber("total", faults.Total);
            WriteCounts(w, "byReason", faults.ByReason);
            WriteCounts(w, "byAccess", faults.ByAccess);
        });
        WriteObject(json, "rcu", Rcu, static (w, rcu) =>
        {
            w.WriteNumber("gracePeriods", rcu.GracePeriods);
            w.WriteNumber("callbacksRun", rcu.CallbacksRun);
            w.WriteNumber("tablesDeferred", rcu.TablesDeferred);
            w.WriteNumber("headsQueued", rcu.HeadsQueued);
        });
        WriteObject(json, "locks", Locks, static (w, locks) =>
        {
            w.WriteNumber("contended", locks.Contended);
            w.WriteNumber("spins", locks.Spins);
        });
        WriteObjects(json, "activities", Activities, static (w, activity) =>
        {
            w.WriteString("name", activity.Name);
            w.WriteNumber("completed", activity.Completed);
            w.WriteNumber("unmatchedStarts", activity.UnmatchedStarts);
            w.WriteNumber("unmatchedStops", activity.UnmatchedStops);
            WriteHistogram(w, activity.Latency);
            WriteObject(w, "stopTotals", activity.StopTotals, static (inner, totals) =>
            {
                foreach (KeyValuePair<string, double> total in totals.OrderBy(pair => pair.Key, StringComparer.Ordinal))
                    inner.WriteNumber(total.Key, total.Value);
            });
        });
        WriteObjects(json, "metrics", Metrics, static (w, metric) =>
        {
            w.WriteString("instrument", metric.Instrument);
            w.WriteString("tags", metric.Tags);
            w.WriteString("unit", metric.Unit);
            w.WriteString("kind", metric.Kind);
            w.WriteNumber("samples", metric.Samples);
            w.WriteNumber("last", metric.Last);
            w.WriteNumber("minimum", metric.Minimum);
            w.WriteNumber("maximum", metric.Maximum);
        });
        json.WriteEndObject();
    }

    /// <summary>An array named <paramref name="name"/> of one object per item, each written by
    /// <paramref name="writeFields"/> between its braces.</summary>
    private static void WriteObjects<T>(Utf8JsonWriter json, string name, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeFields)
    {
        json.WriteStartArray(name);
        foreach (T item in items)
        {
            json.WriteStartObject();
            writeFields(json, item);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>An object named <paramref name="name"/> whose fields <paramref name="writeFields"/> writes from
    /// <paramref name="value"/>.</summary>
    private static void WriteObject<T>(Utf8JsonWriter json, string name, T value, Action<Utf8JsonWriter, T> writeFields)
    {
        json.WriteStartObject(name);
        writeFields(json, value);
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
        WriteObjects(json, "buckets", histogram.Buckets, static (w, bucket) =>
        {
            w.WriteNumber("fromMicroseconds", bucket.LowerMicroseconds);
            w.WriteNumber("toMicroseconds", bucket.UpperMicroseconds);
            w.WriteNumber("count", bucket.Count);
        });
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
