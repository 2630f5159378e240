using System;
using System.Collections.Generic;

namespace FastPt.Cli.Scenarios;

/// <summary>A named part of a synthetic process layout.</summary>
/// <param name="Name">What the area is (text, heap, a library, the stack...).</param>
/// <param name="Start">First virtual address.</param>
/// <param name="Length">Bytes reserved for the area.</param>
/// <param name="TouchedPages">Pages of the area that were touched (and so are mapped).</param>
public readonly record struct SyntheticArea(string Name, ulong Start, ulong Length, long TouchedPages);

/// <summary>A process-like set of touched pages: program text and data, a heap grown in clusters, shared
/// libraries and anonymous mappings placed downwards from the mmap base, a large sparse reservation, and a stack
/// near the top of the 47-bit user range. The same seed always gives the same pages.</summary>
public sealed class SyntheticProcessLayout
{
    private const ulong Page = 4096;
    private const ulong MiB = 1UL << 20;
    private const ulong GiB = 1UL << 30;

    private readonly Random _random;
    private readonly HashSet<ulong> _pages = [];
    private readonly List<SyntheticArea> _areas = [];

    private SyntheticProcessLayout(int seed) => _random = new Random(seed);

    /// <summary>The touched pages, as virtual page numbers (address / 4 KiB).</summary>
    public IReadOnlyCollection<ulong> Pages => _pages;

    /// <summary>The areas, in the order they were laid out.</summary>
    public IReadOnlyList<SyntheticArea> Areas => _areas;

    /// <summary>Lays out a process with the given seed.</summary>
    public static SyntheticProcessLayout Generate(int seed)
    {
        var layout = new SyntheticProcessLayout(seed);
        layout.Build();
        return layout;
    }

    private void Build()
    {
        // Program: text and read-only data from 4 MiB, mostly touched; then data and bss.
        ulong text = 0x40_0000;
        ulong textLength = RandomSize(4 * MiB, 12 * MiB);
        AddArea("program text", text, textLength, density: 0.85, clusterPages: 16);
        ulong data = AlignUp(text + textLength, Page) + 2 * MiB;
        AddArea("program data+bss", data, 2 * MiB, density: 0.7, clusterPages: 8);

        // Heap: brk starts at a random offset above bss and grew to a few hundred MiB, touched in 64 KiB clusters.
        ulong heap = AlignUp(data + 2 * MiB + (ulong)_random.NextInt64(32 * (long)MiB), Page);
        AddArea("heap", heap, RandomSize(128 * MiB, 384 * MiB), density: 0.45, clusterPages: 16);

        // mmap area, allocated downwards from a randomised base below the stack gap.
        ulong mmapTop = AlignDown(0x7f00_0000_0000 - (ulong)_random.NextInt64(64 * (long)GiB), 2 * MiB);
        ulong cursor = mmapTop;
        for (int library = 0; library < 14; library++)
        {
            ulong libraryText = RandomSize(256 * 1024, 6 * MiB);
            cursor = AlignDown(cursor - libraryText - 128 * 1024, 2 * MiB);
            AddArea($"library {library} text", cursor, libraryText, density: 0.35, clusterPages: 4);
            AddArea($"library {library} data", cursor + AlignUp(libraryText, Page), 64 * 1024, density: 1.0, clusterPages: 16);
        }
        for (int anonymous = 0; anonymous < 5; anonymous++)
        {
            ulong length = RandomSize(8 * MiB, 512 * MiB);
            cursor = AlignDown(cursor - length - 4 * MiB, Page);
            AddArea($"anonymous mmap {anonymous}", cursor, length, density: 0.08, clusterPages: 64);
        }
        // A managed-runtime style reservation: 16 GiB reserved, a handful of regions committed across it.
        ulong reservation = 16 * GiB;
        cursor = AlignDown(cursor - reservation - GiB, GiB);
        AddArea("sparse 16 GiB reservation", cursor, reservation, density: 0.0015, clusterPages: 128);

        // Stack near the top of the user range, with the vdso just above it.
        ulong stackTop = AlignDown(0x7fff_ffff_f000 - (ulong)_random.NextInt64(16 * (long)GiB), Page);
        ulong stackLength = 8 * MiB;
        ulong touchedStack = RandomSize(64 * 1024, 512 * 1024);
        AddDense("stack", stackTop - stackLength, stackLength, stackTop - touchedStack, touchedStack);
        AddDense("vvar+vdso", stackTop + 64 * 1024, 4 * Page, stackTop + 64 * 1024, 4 * Page);
    }

    private void AddArea(string name, ulong start, ulong length, double density, int clusterPages)
    {
        long before = _pages.Count;
        ulong pages = length / Page;
        ulong cluster = (ulong)clusterPages;
        for (ulong first = 0; first < pages; first += cluster)
        {
            if (_random.NextDouble() >= density) continue;
            ulong end = Math.Min(first + cluster, pages);
            for (ulong page = first; page < end; page++) _pages.Add(start / Page + page);
        }
        // Every area has at least its first page touched.
        _pages.Add(start / Page);
        _areas.Add(new SyntheticArea(name, start, length, _pages.Count - before));
    }

    private void AddDense(string name, ulong start, ulong length, ulong touchedStart, ulong touchedLength)
    {
        long before = _pages.Count;
        for (ulong address = touchedStart; address < touchedStart + touchedLength; address += Page) _pages.Add(address / Page);
        _areas.Add(new SyntheticArea(name, start, length, _pages.Count - before));
    }

    private ulong RandomSize(ulong minimum, ulong maximum) => AlignUp(minimum + (ulong)_random.NextInt64((long)(maximum - minimum)), Page);

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static ulong AlignDown(ulong value, ulong alignment) => value & ~(alignment - 1);
}
