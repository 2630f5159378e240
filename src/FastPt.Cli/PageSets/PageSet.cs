using System;
using System.Collections.Generic;

namespace FastPt.Cli.PageSets;

/// <summary>A run of consecutive 4 KiB pages.</summary>
/// <param name="First">Index of the first page.</param>
/// <param name="Count">Number of pages.</param>
public readonly record struct PageRun(ulong First, ulong Count);

/// <summary>A set of distinct 4 KiB page indices, kept sorted: the input of a replay.</summary>
public sealed class PageSet
{
    private readonly ulong[] _pages;

    private PageSet(ulong[] sortedDistinct) => _pages = sortedDistinct;

    /// <summary>Number of distinct pages.</summary>
    public int Count => _pages.Length;

    /// <summary>The pages in increasing order.</summary>
    public ReadOnlySpan<ulong> Pages => _pages;

    /// <summary>The lowest page; the set must not be empty.</summary>
    public ulong First => _pages.Length > 0 ? _pages[0] : throw new InvalidOperationException("The page set is empty.");

    /// <summary>The highest page; the set must not be empty.</summary>
    public ulong Last => _pages.Length > 0 ? _pages[^1] : throw new InvalidOperationException("The page set is empty.");

    /// <summary>Builds a set from page indices in any order, duplicates allowed.</summary>
    public static PageSet FromIndices(IEnumerable<ulong> pages)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ulong[] array = [.. pages];
        Array.Sort(array);
        int distinct = 0;
        for (int i = 0; i < array.Length; i++)
        {
            if (distinct == 0 || array[i] != array[distinct - 1]) array[distinct++] = array[i];
        }
        Array.Resize(ref array, distinct);
        return new PageSet(array);
    }

    /// <summary>True when <paramref name="page"/> is in the set.</summary>
    public bool Contains(ulong page) => Array.BinarySearch(_pages, page) >= 0;

    /// <summary>The set as maximal runs of consecutive pages, in increasing order.</summary>
    public IEnumerable<PageRun> Runs()
    {
        int i = 0;
        while (i < _pages.Length)
        {
            int j = i + 1;
            while (j < _pages.Length && _pages[j] == _pages[j - 1] + 1) j++;
            yield return new PageRun(_pages[i], (ulong)(j - i));
            i = j;
        }
    }

    /// <summary>Number of distinct blocks of 2^<paramref name="shift"/> pages the set touches (shift 9: 2 MiB
    /// regions, 18: 1 GiB regions, 27: 512 GiB regions).</summary>
    public long DistinctBlocks(int shift)
    {
        long count = 0;
        ulong previous = 0;
        foreach (ulong page in _pages)
        {
            ulong block = page >> shift;
            if (count == 0 || block != previous) count++;
            previous = block;
        }
        return count;
    }
}
