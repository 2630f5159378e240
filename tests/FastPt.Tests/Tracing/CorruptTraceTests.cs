using System;
using System.Collections.Generic;
using System.IO;
using FastPt.Tests.Cli;
using FastPt.Tracing;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tracing;

/// <summary>A truncated or corrupt .nettrace gives a <see cref="TraceFormatException"/> that names the file and the
/// problem: never another exception, never a silently empty summary.</summary>
[Collection("Serial")]
public sealed class CorruptTraceTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();
    private readonly byte[] _trace;

    public CorruptTraceTests()
    {
        string path = _directory.File("good.nettrace");
        using (Machine machine = Create(1 * GiB))
        using (TraceRecorder recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            using (AddressSpace space = machine.CreateAddressSpace())
            {
                space.Map(V(0x4000_0000), P(0), 8 * MiB, Protection.ReadWrite, PageSize.Size4K);
                space.Unmap(V(0x4000_0000), 8 * MiB);
            }
            recorder.Stop();
        }
        _trace = File.ReadAllBytes(path);
    }

    public void Dispose() => _directory.Dispose();

    private string Write(string name, byte[] bytes)
    {
        string path = _directory.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void The_intact_trace_reads()
    {
        TraceSummary summary = TraceSummary.Read(Write("copy.nettrace", _trace));
        // The root, a PUD and a PMD table and the 4 PTE tables of 8 MiB of 4 KiB pages, all freed again.
        Assert.Equal(1 + 1 + 1 + 4, summary.Tables.Allocated);
        Assert.Equal(summary.Tables.Allocated, summary.Tables.Freed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(200)]
    [InlineData(-2)] // half
    [InlineData(-1)] // all but the last byte
    public void A_truncated_trace_is_a_clear_error(int length)
    {
        int cut = length switch { -1 => _trace.Length - 1, -2 => _trace.Length / 2, _ => length };
        string path = Write($"cut-{cut}.nettrace", _trace[..cut]);
        TraceFormatException error = Assert.Throws<TraceFormatException>(() => TraceSummary.Read(path));
        Assert.Equal(path, error.FileName);
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_trace_is_a_clear_error()
    {
        string path = Write("text.nettrace", "this is not a trace, just some text that is long enough\n"u8.ToArray());
        TraceFormatException error = Assert.Throws<TraceFormatException>(() => TraceSummary.Read(path));
        Assert.Contains("not a .nettrace", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_after_the_header_is_a_clear_error()
    {
        byte[] corrupt = (byte[])_trace.Clone();
        for (int i = 48; i < 176; i++) corrupt[i] = (byte)(0xA5 ^ i);
        string path = Write("garbage.nettrace", corrupt);
        TraceFormatException error = Assert.Throws<TraceFormatException>(() => TraceSummary.Read(path));
        Assert.Contains("corrupt", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.InnerException);
    }

    [Fact]
    public void Impossible_payloads_are_reported_as_anomalies()
    {
        string path = _directory.File("impossible.nettrace");
        using (TraceRecorder recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = 0 }))
        {
            Diagnostics.FastPtEventSource.Log.TableAlloc(12345, level: 9, pfn: 7, kernel: false);
            Diagnostics.FastPtEventSource.Log.TlbFlush(12345, (FlushKind)17, 0x1000, 0x2000, 1);
            Diagnostics.FastPtEventSource.Log.MapRange(12345, 0x1234, 0x1000, 1, 0);
            Diagnostics.FastPtEventSource.Log.UnmapRange(12345, 0x1000, 0x1000, -3);
            recorder.Stop();
        }
        TraceSummary summary = TraceSummary.Read(path);
        Assert.Equal(4, summary.AnomalyCount);
        Assert.Contains(summary.Anomalies, a => a.StartsWith("TableAlloc", StringComparison.Ordinal) && a.Contains("level = 9", StringComparison.Ordinal));
        Assert.Contains(summary.Anomalies, a => a.StartsWith("TlbFlush", StringComparison.Ordinal) && a.Contains("kind = 17", StringComparison.Ordinal));
        Assert.Contains(summary.Anomalies, a => a.StartsWith("MapRange", StringComparison.Ordinal) && a.Contains("address", StringComparison.Ordinal));
        Assert.Contains(summary.Anomalies, a => a.StartsWith("UnmapRange", StringComparison.Ordinal) && a.Contains("tablesFreed = -3", StringComparison.Ordinal));
        Assert.Equal(0, TraceSummary.Read(Write("intact.nettrace", _trace)).AnomalyCount);
    }

    [Fact]
    public void Damage_anywhere_gives_a_summary_or_a_trace_format_error_and_nothing_else()
    {
        var outcomes = new List<string>();
        int errors = 0;
        for (int offset = 16; offset < _trace.Length; offset += Math.Max(97, _trace.Length / 40))
        {
            byte[] corrupt = (byte[])_trace.Clone();
            for (int i = offset; i < Math.Min(corrupt.Length, offset + 24); i++) corrupt[i] = 0xFF;
            string path = Write($"damaged-{offset}.nettrace", corrupt);
            try
            {
                TraceSummary summary = TraceSummary.Read(path);
                Assert.True(summary.FastPtEvents > 0);
                outcomes.Add($"{offset}: read, {summary.TotalEvents} events, {summary.AnomalyCount} anomalies");
            }
            catch (TraceFormatException exception)
            {
                errors++;
                outcomes.Add($"{offset}: {exception.Message}");
            }
        }
        // A .nettrace has no checksums, so damage inside a payload can read; but every damaged copy either reads
        // into a non-empty summary or fails with the clear error, and damage to the structure is caught.
        Assert.True(errors > 0, string.Join("\n", outcomes));
    }
}
