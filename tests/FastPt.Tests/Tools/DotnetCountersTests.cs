using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using FastPt.Tests.Cli;
using Xunit;

namespace FastPt.Tests.Tools;

/// <summary>dotnet-counters, installed from the tool manifest, reads the FastPt Meter of a looping fastpt.</summary>
public class DotnetCountersTests
{
    /// <summary>One CSV row: which sample (in file order), when, which instrument (name, tags) and the value.</summary>
    private sealed record Row(int Sample, string Timestamp, string Instrument, string Tags, string Type, double Value);

    private static List<Row> ReadCsv(string path)
    {
        string[] lines = File.ReadAllLines(path);
        Assert.True(lines.Length > 0, "empty CSV");
        Assert.Equal("Timestamp,Provider,Counter Name,Counter Type,Mean/Increment", lines[0]);
        var rows = new List<Row>();
        // The timestamp has whole seconds, and the last refresh (at exit) can fall in the same second as the one
        // before it: a sample is a run of rows naming each instrument and tag set at most once.
        var inSample = new HashSet<(string, string)>();
        int sample = 0;
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            string[] cells = line.Split(',');
            Assert.True(cells.Length == 5, "unexpected CSV line: " + line);
            if (cells[1] != "FastPt") continue;
            // "fastpt.memmap.pages ({page})[kind=boot]": the name, the unit in parentheses, the tags in brackets.
            string counter = cells[2];
            int tagsAt = counter.IndexOf('[', StringComparison.Ordinal);
            string tags = tagsAt < 0 ? "" : counter[(tagsAt + 1)..counter.LastIndexOf(']')];
            string name = counter.Split(' ', '[')[0];
            if (!inSample.Add((name, tags)))
            {
                sample++;
                inSample.Clear();
                inSample.Add((name, tags));
            }
            rows.Add(new Row(sample, cells[0], name, tags, cells[3], double.Parse(cells[4], CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    [Fact]
    public void Collect_against_a_three_second_loop_writes_plausible_fastpt_instruments()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("counters.csv");
        (int? code, string transcript) = DiagnosticsTools.Run("dotnet-counters",
            "collect", "--counters", "FastPt", "--refresh-interval", "1", "--format", "csv", "-o", path,
            "--", ChildProcess.FastPtCommand(), "run", "paging", "--memory", "4G", "--duration", "3s");
        Assert.True(code == 0, "dotnet-counters collect failed:" + Environment.NewLine + transcript);
        List<Row> rows = ReadCsv(path);
        string context = transcript + Environment.NewLine + File.ReadAllText(path);

        Assert.True(rows.Select(r => r.Timestamp).Distinct().Count() >= 2, "fewer than two seconds sampled:" + Environment.NewLine + context);
        string[] names = rows.Select(r => r.Instrument).Distinct().ToArray();
        foreach (string instrument in new[] { "fastpt.page_tables", "fastpt.memory.free_frames", "fastpt.memmap.pages", "fastpt.tlb.hit_rate", "fastpt.tlb.hits", "fastpt.tlb.misses" })
            Assert.True(names.Contains(instrument), $"{instrument} missing from the CSV:" + Environment.NewLine + context);

        // A sample taken before the machine booted or after it was disposed sees no machine at all: every gauge is 0.
        // Only the first and the last sample may be such; the others must show the machine.
        int last = rows[^1].Sample;
        bool NoMachine(int sample) => rows.Where(r => r.Sample == sample && r.Type == "Metric" && r.Instrument != "fastpt.tlb.hit_rate").All(r => r.Value == 0);
        bool first = NoMachine(0), final = NoMachine(last);
        rows = rows.Where(r => !((r.Sample == 0 && first) || (r.Sample == last && final))).ToList();
        Assert.True(rows.Count > 0, "no sample showed a machine:" + Environment.NewLine + context);

        const long Frames = (4L << 30) / 4096;
        // The memmap of 4 GiB: 64 bytes per 4 KiB frame, in 4 KiB pages, allocated at boot.
        Assert.All(rows.Where(r => r.Instrument == "fastpt.memmap.pages" && r.Tags == "kind=boot"), r => Assert.Equal(Frames * 64 / 4096, r.Value));
        Assert.All(rows.Where(r => r.Instrument == "fastpt.memory.free_frames"), r => Assert.InRange(r.Value, 1, Frames));
        Assert.All(rows.Where(r => r.Instrument == "fastpt.page_tables"), r => Assert.InRange(r.Value, 1, Frames));
        Assert.All(rows.Where(r => r.Instrument == "fastpt.tlb.hit_rate"), r => Assert.InRange(r.Value, 0, 1));
        // The paging scenario translates: some interval saw TLB hits.
        Assert.Contains(rows, r => r.Instrument == "fastpt.tlb.hits" && r.Value > 0);
    }
}
