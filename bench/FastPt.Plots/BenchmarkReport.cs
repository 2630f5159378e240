using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace FastPt.Plots;

/// <summary>A report file could not be read as what its name says it is.</summary>
internal sealed class ReportFormatException : Exception
{
    public ReportFormatException() { }

    public ReportFormatException(string message) : base(message) { }

    public ReportFormatException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>One row of a BenchmarkDotNet CSV report: the method, its parameter values, and the mean and error
/// (half the 99.9% confidence interval) in nanoseconds per operation.</summary>
internal sealed record BenchmarkRow(string Method, IReadOnlyDictionary<string, string> Parameters, double MeanNs, double ErrorNs);

/// <summary>Reads BenchmarkDotNet's CSV reports (<c>*-report.csv</c>): quoted fields, times with units
/// (ns, μs, us, ms, s), thousands separators. The parameter columns are those between the job's characteristics and
/// <c>Mean</c>.</summary>
internal static class BenchmarkReport
{
    // Job and environment characteristics BenchmarkDotNet writes before the parameters (0.15.x).
    private static readonly HashSet<string> s_characteristics = new(StringComparer.Ordinal)
    {
        "Method", "Job", "Namespace", "Type", "AnalyzeLaunchVariance", "EvaluateOverhead", "MaxAbsoluteError", "MaxRelativeError",
        "MinInvokeCount", "MinIterationTime", "OutlierMode", "Affinity", "EnvironmentVariables", "Jit", "LargeAddressAware",
        "Platform", "PowerPlanMode", "Runtime", "AllowVeryLargeObjects", "Concurrent", "CpuGroups", "Force", "HeapAffinitizeMask",
        "HeapCount", "NoAffinitize", "RetainVm", "Server", "Arguments", "BuildConfiguration", "Clock", "EngineFactory",
        "NuGetReferences", "Toolchain", "IsMutator", "InvocationCount", "IterationCount", "IterationTime", "LaunchCount",
        "MaxIterationCount", "MaxWarmupIterationCount", "MemoryRandomization", "MinIterationCount", "MinWarmupIterationCount",
        "RunStrategy", "UnrollFactor", "WarmupCount",
    };

    public static IReadOnlyList<BenchmarkRow> Read(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        string? header = reader.ReadLine() ?? throw new ReportFormatException($"{path}: empty file, not a BenchmarkDotNet CSV report");
        string[] columns = Split(header, path, 1);
        int method = Array.IndexOf(columns, "Method"), mean = Array.IndexOf(columns, "Mean"), error = Array.IndexOf(columns, "Error");
        if (method < 0 || mean < 0)
            throw new ReportFormatException($"{path}: line 1 has no Method and Mean columns, not a BenchmarkDotNet CSV report");
        var parameters = new List<int>();
        for (int i = mean - 1; i >= 0 && !s_characteristics.Contains(columns[i]); i--) parameters.Insert(0, i);

        var rows = new List<BenchmarkRow>();
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string[] fields = Split(line, path, lineNumber);
            if (fields.Length != columns.Length)
                throw new ReportFormatException($"{path}: line {lineNumber} has {fields.Length} fields, the header {columns.Length}");
            // A benchmark that failed has no mean ("NA"): it is no point on a curve.
            if (!TryParseTime(fields[mean], out double meanNs)) continue;
            double errorNs = error >= 0 && TryParseTime(fields[error], out double e) ? e : 0;
            var values = parameters.ToDictionary(i => columns[i], i => fields[i], StringComparer.Ordinal);
            rows.Add(new BenchmarkRow(fields[method], values, meanNs, errorNs));
        }
        return rows;
    }

    /// <summary>A time as BenchmarkDotNet writes it ("5.036 ns", "17.556 μs", "1,234.5 ms"), in nanoseconds.</summary>
    public static bool TryParseTime(string text, out double nanoseconds)
    {
        nanoseconds = 0;
        string[] parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2) return false;
        double scale = parts[1] switch
        {
            "ns" => 1,
            "μs" or "us" or "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            _ => 0,
        };
        if (scale == 0 || !double.TryParse(parts[0], NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double value))
            return false;
        nanoseconds = value * scale;
        return true;
    }

    /// <summary>Splits one CSV line: fields in double quotes may hold commas and doubled quotes.</summary>
    public static string[] Split(string line, string path, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"' && field.Length == 0) quoted = true;
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else field.Append(c);
        }
        if (quoted) throw new ReportFormatException($"{path}: line {lineNumber} ends inside a quoted field");
        fields.Add(field.ToString());
        return fields.ToArray();
    }
}
