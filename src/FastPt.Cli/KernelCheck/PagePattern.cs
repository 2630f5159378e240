using System;
using System.Collections.Generic;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.KernelCheck;

/// <summary>The page sets kernel-check builds without a page file.</summary>
internal enum PagePatternKind
{
    /// <summary>Every page of a range.</summary>
    Dense,

    /// <summary>One page per 2 MiB: a PTE table each.</summary>
    Stride2M,

    /// <summary>One page per 1 GiB: a PTE and a PMD table each.</summary>
    Stride1G,

    /// <summary>Distinct random pages in a range, from a seed.</summary>
    Random,
}

/// <summary>Builds pattern page sets (page indices from 0, relative to the measured region).</summary>
internal static class PagePattern
{
    /// <summary>The largest span a pattern may cover: 64 TiB, half of a 4-level user address space.</summary>
    public const ulong MaximumSpanBytes = 1UL << 46;

    /// <summary>The most pages a pattern may have.</summary>
    public const long MaximumCount = 1L << 24;

    /// <summary>Default span of the random pattern: 8 GiB.</summary>
    public const ulong DefaultRandomSpanBytes = 8UL << 30;

    private const ulong PageBytes = 4096;

    public static string Name(PagePatternKind kind) => kind switch
    {
        PagePatternKind.Dense => "dense",
        PagePatternKind.Stride2M => "stride2m",
        PagePatternKind.Stride1G => "stride1g",
        _ => "random",
    };

    public static PagePatternKind? Parse(string name) => name.ToUpperInvariant() switch
    {
        "DENSE" => PagePatternKind.Dense,
        "STRIDE2M" => PagePatternKind.Stride2M,
        "STRIDE1G" => PagePatternKind.Stride1G,
        "RANDOM" => PagePatternKind.Random,
        _ => null,
    };

    /// <summary>Default page count: a few thousand pages, and for stride1g enough gigabytes (600) to cross a 512 GiB
    /// boundary, so that every level takes more than one table.</summary>
    public static long DefaultCount(PagePatternKind kind) => kind switch
    {
        PagePatternKind.Dense => 4096,
        PagePatternKind.Stride2M => 512,
        PagePatternKind.Stride1G => 600,
        _ => 4096,
    };

    /// <summary>Distance between consecutive pages of a strided pattern, in pages (1 for dense).</summary>
    public static ulong StridePages(PagePatternKind kind) => kind switch
    {
        PagePatternKind.Stride2M => 512,
        PagePatternKind.Stride1G => 512 * 512,
        _ => 1,
    };

    /// <summary>One line describing the pattern, for reports.</summary>
    public static string Describe(PagePatternKind kind, long count, ulong randomSpanBytes, int seed) => kind switch
    {
        PagePatternKind.Dense => $"{count:N0} consecutive pages",
        PagePatternKind.Stride2M => $"{count:N0} pages, one per 2 MiB",
        PagePatternKind.Stride1G => $"{count:N0} pages, one per 1 GiB",
        _ => $"{count:N0} distinct random pages in {Parsing.SizeParser.Format(randomSpanBytes)} (seed {seed})",
    };

    /// <summary>Why <paramref name="count"/> pages of <paramref name="kind"/> cannot be built, or null.</summary>
    public static string? Validate(PagePatternKind kind, long count, ulong randomSpanBytes)
    {
        if (count < 1 || count > MaximumCount) return $"--count must be between 1 and {MaximumCount:N0}";
        if (kind == PagePatternKind.Random)
        {
            if (randomSpanBytes < PageBytes || randomSpanBytes % PageBytes != 0 || randomSpanBytes > MaximumSpanBytes)
                return $"--span must be a multiple of 4 KiB between 4K and {Parsing.SizeParser.Format(MaximumSpanBytes)}";
            if ((ulong)count > randomSpanBytes / PageBytes)
                return $"--count {count:N0} is more than the {randomSpanBytes / PageBytes:N0} pages of --span {Parsing.SizeParser.Format(randomSpanBytes)}";
            return null;
        }
        ulong stride = StridePages(kind);
        if ((ulong)count > MaximumSpanBytes / PageBytes / stride)
            return $"--count {count:N0} of pattern {Name(kind)} spans more than {Parsing.SizeParser.Format(MaximumSpanBytes)}; at most {MaximumSpanBytes / PageBytes / stride:N0}";
        return null;
    }

    /// <summary>The page set; <see cref="Validate"/> must have accepted the arguments.</summary>
    public static PageSet Build(PagePatternKind kind, long count, ulong randomSpanBytes, int seed)
    {
        string? error = Validate(kind, count, randomSpanBytes);
        if (error is not null) throw new ArgumentException(error, nameof(count));
        if (kind != PagePatternKind.Random)
        {
            ulong stride = StridePages(kind);
            var pages = new ulong[count];
            for (long i = 0; i < count; i++) pages[i] = (ulong)i * stride;
            return PageSet.FromIndices(pages);
        }
        return PageSet.FromIndices(RandomDistinct(randomSpanBytes / PageBytes, count, seed));
    }

    /// <summary>Floyd's algorithm: <paramref name="count"/> distinct values below <paramref name="range"/>, each
    /// subset equally likely, in O(count) draws however dense.</summary>
    private static HashSet<ulong> RandomDistinct(ulong range, long count, int seed)
    {
        var random = new Random(seed);
        var chosen = new HashSet<ulong>((int)count);
        for (ulong j = range - (ulong)count; j < range; j++)
        {
            ulong t = (ulong)random.NextInt64(0, (long)j + 1);
            if (!chosen.Add(t)) chosen.Add(j);
        }
        return chosen;
    }
}
