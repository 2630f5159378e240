using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace FastPt.Plots;

/// <summary>One row of the boot-scaling report: simulated RAM, the boot kind (deferred, or the eager baseline),
/// median, fastest and slowest boot time, and the median peak resident memory above the process's own.</summary>
internal sealed record BootRow(double RamBytes, string Boot, double Seconds, double MinSeconds, double MaxSeconds, double PeakRssMiB);

/// <summary>Reads the markdown table of <c>boot-scaling.md</c> (written by <c>FastPt.Benchmarks boot-scaling</c>,
/// which times each boot in a fresh process rather than through BenchmarkDotNet).</summary>
internal static class BootScalingTable
{
    public static IReadOnlyList<BootRow> Read(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int header = Array.FindIndex(lines, line => line.TrimStart().StartsWith("| RAM", StringComparison.Ordinal));
        if (header < 0) throw new ReportFormatException($"{path}: no table with a RAM column, not a boot-scaling report");
        string[] names = Cells(lines[header]);
        int ram = Column(names, "RAM", path), boot = Column(names, "boot", path), time = Column(names, "time (s)", path);
        int range = Column(names, "min–max (s)", path), rss = Column(names, "peak RSS above baseline (MiB)", path);
        var rows = new List<BootRow>();
        for (int i = header + 2; i < lines.Length && lines[i].TrimStart().StartsWith('|'); i++)
        {
            string[] cells = Cells(lines[i]);
            if (cells.Length != names.Length) throw new ReportFormatException($"{path}: line {i + 1} has {cells.Length} cells, the header {names.Length}");
            string[] minMax = cells[range].Split('–');
            if (minMax.Length != 2) throw new ReportFormatException($"{path}: line {i + 1}: {cells[range]} is not a min–max range");
            rows.Add(new BootRow(Size(cells[ram], path, i + 1), cells[boot], Number(cells[time], path, i + 1),
                Number(minMax[0], path, i + 1), Number(minMax[1], path, i + 1), Number(cells[rss], path, i + 1)));
        }
        if (rows.Count == 0) throw new ReportFormatException($"{path}: the boot-scaling table has no rows");
        return rows;
    }

    private static string[] Cells(string line) => line.Trim().Trim('|').Split('|').Select(cell => cell.Trim()).ToArray();

    private static int Column(string[] names, string name, string path)
    {
        int index = Array.IndexOf(names, name);
        return index >= 0 ? index : throw new ReportFormatException($"{path}: the boot-scaling table has no '{name}' column");
    }

    private static double Number(string text, string path, int line) =>
        double.TryParse(text.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw new ReportFormatException($"{path}: line {line}: '{text}' is not a number");

    /// <summary>"1 GiB", "64 TiB" in bytes.</summary>
    private static double Size(string text, string path, int line)
    {
        string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int shift = parts.Length == 2 ? parts[1] switch { "MiB" => 20, "GiB" => 30, "TiB" => 40, "PiB" => 50, _ => -1 } : -1;
        if (shift < 0) throw new ReportFormatException($"{path}: line {line}: '{text}' is not a size such as 4 GiB");
        return Number(parts[0], path, line) * Math.Pow(2, shift);
    }
}
