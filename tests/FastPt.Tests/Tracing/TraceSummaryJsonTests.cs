using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using FastPt.Tracing;
using Xunit;

namespace FastPt.Tests.Tracing;

/// <summary>The summary's JSON comes from one generic writer over the records: every public property by its
/// camelCase name (a unit in the name where it says one), durations in microseconds, enum keys by name in key order,
/// severities in lower case.</summary>
public class TraceSummaryJsonTests
{
    private static TraceSummary Sample() => new()
    {
        Source = "x.nettrace",
        Duration = TimeSpan.FromMilliseconds(1.5),
        TotalEvents = 7,
        Notes = [new TraceNote(TraceNoteSeverity.Warning, "careful")],
        Freed = new FreedMemory { PageTableBytes = 4096, MemmapBytes = 8192 },
        Flushes = new FlushSummary { Total = 3, ByKind = new SortedDictionary<FlushKind, long>(Enum.GetValues<FlushKind>().ToDictionary(k => k, _ => 1L)) },
        UnattributedFlushes = 2,
        Activities =
        [
            new ActivitySummary
            {
                Name = "HotRemove",
                Completed = 2,
                Latency = LatencyHistogram.FromDurations([TimeSpan.FromMicroseconds(3), TimeSpan.FromMicroseconds(5)]),
                StopTotals = new SortedDictionary<string, double>(StringComparer.Ordinal) { ["b"] = 2, ["a"] = 1 },
            },
        ],
    };

    [Fact]
    public void Every_property_is_written_by_its_wire_name()
    {
        using JsonDocument document = JsonDocument.Parse(Sample().ToJson());
        JsonElement root = document.RootElement;
        Assert.Equal("x.nettrace", root.GetProperty("source").GetString());
        Assert.Equal(1500, root.GetProperty("durationMicroseconds").GetDouble());
        Assert.Equal(7, root.GetProperty("totalEvents").GetInt64());
        Assert.Equal("warning", root.GetProperty("notes")[0].GetProperty("severity").GetString());
        JsonElement freed = root.GetProperty("bytesFreed");
        Assert.Equal(4096, freed.GetProperty("pageTables").GetInt64());
        Assert.Equal(8192, freed.GetProperty("memmap").GetInt64());
        Assert.Equal(12288, freed.GetProperty("total").GetInt64());
        Assert.Equal(2, root.GetProperty("unattributedFlushes").GetInt64());
        string[] kinds = root.GetProperty("flushes").GetProperty("byKind").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(Enum.GetValues<FlushKind>().Select(k => k.ToString()), kinds);
        JsonElement latency = root.GetProperty("activities")[0].GetProperty("latency");
        Assert.Equal(3, latency.GetProperty("minimumMicroseconds").GetDouble());
        Assert.Equal(5, latency.GetProperty("maximumMicroseconds").GetDouble());
        Assert.Equal(8, latency.GetProperty("totalMicroseconds").GetDouble());
        Assert.Equal(2, latency.GetProperty("buckets")[0].GetProperty("fromMicroseconds").GetDouble());
        Assert.Equal(["a", "b"], root.GetProperty("activities")[0].GetProperty("stopTotals").EnumerateObject().Select(p => p.Name));
    }

    /// <summary>A property added to a record reaches the JSON without a line of writer code: every public property
    /// of every record appears, none is left out.</summary>
    [Fact]
    public void The_document_has_one_field_per_public_property()
    {
        using JsonDocument document = JsonDocument.Parse(Sample().ToJson());
        int properties = typeof(TraceSummary).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Length;
        Assert.Equal(properties, document.RootElement.EnumerateObject().Count());
        int histogram = typeof(LatencyHistogram).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Length;
        Assert.Equal(histogram, document.RootElement.GetProperty("activities")[0].GetProperty("latency").EnumerateObject().Count());
    }
}
