using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Serialization;

namespace FastPt.Tracing;

/// <summary>A distribution of durations: exact minimum, median, 99th percentile and maximum (nearest rank), and
/// counts in power-of-two buckets of microseconds.</summary>
public sealed record LatencyHistogram
{
    /// <summary>A histogram of no durations.</summary>
    public static LatencyHistogram Empty { get; } = new();

    /// <summary>Durations counted.</summary>
    public long Count { get; init; }

    /// <summary>The shortest.</summary>
    [JsonPropertyName("minimumMicroseconds")]
    public TimeSpan Minimum { get; init; }

    /// <summary>The median (the lower one for an even count).</summary>
    [JsonPropertyName("medianMicroseconds")]
    public TimeSpan Median { get; init; }

    /// <summary>The 99th percentile.</summary>
    [JsonPropertyName("p99Microseconds")]
    public TimeSpan P99 { get; init; }

    /// <summary>The longest.</summary>
    [JsonPropertyName("maximumMicroseconds")]
    public TimeSpan Maximum { get; init; }

    /// <summary>The sum of all durations.</summary>
    [JsonPropertyName("totalMicroseconds")]
    public TimeSpan Total { get; init; }

    /// <summary>Non-empty buckets in increasing order: [0, 1) µs, then [2^k, 2^(k+1)) µs.</summary>
    public IReadOnlyList<HistogramBucket> Buckets { get; init; } = [];

    /// <summary>Builds the histogram of <paramref name="durations"/>.</summary>
    public static LatencyHistogram FromDurations(IEnumerable<TimeSpan> durations)
    {
        ArgumentNullException.ThrowIfNull(durations);
        TimeSpan[] sorted = durations.Order().ToArray();
        if (sorted.Length == 0) return Empty;
        var counts = new SortedDictionary<int, long>();
        foreach (TimeSpan duration in sorted)
        {
            int bucket = BucketOf(duration.TotalMicroseconds);
            counts[bucket] = counts.GetValueOrDefault(bucket) + 1;
        }
        return new LatencyHistogram
        {
            Count = sorted.Length,
            Minimum = sorted[0],
            Median = NearestRank(sorted, 0.50),
            P99 = NearestRank(sorted, 0.99),
            Maximum = sorted[^1],
            Total = new TimeSpan(sorted.Sum(duration => duration.Ticks)),
            Buckets = counts.Select(pair => new HistogramBucket(LowerOf(pair.Key), LowerOf(pair.Key + 1), pair.Value)).ToArray(),
        };
    }

    // Bucket -1 is [0, 1) µs; bucket k >= 0 is [2^k, 2^(k+1)) µs.
    private static int BucketOf(double microseconds) =>
        microseconds < 1 ? -1 : Math.Min(62, (int)Math.Floor(Math.Log2(microseconds)));

    private static double LowerOf(int bucket) => bucket < 0 ? 0 : Math.Pow(2, bucket);

    private static TimeSpan NearestRank(TimeSpan[] sorted, double fraction)
    {
        int rank = (int)Math.Ceiling(fraction * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>Durations in [<paramref name="LowerMicroseconds"/>, <paramref name="UpperMicroseconds"/>).</summary>
/// <param name="LowerMicroseconds">Inclusive lower bound in microseconds.</param>
/// <param name="UpperMicroseconds">Exclusive upper bound in microseconds.</param>
/// <param name="Count">Durations in the bucket.</param>
public sealed record HistogramBucket(
    [property: JsonPropertyName("fromMicroseconds")] double LowerMicroseconds,
    [property: JsonPropertyName("toMicroseconds")] double UpperMicroseconds,
    long Count);
