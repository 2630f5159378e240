using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;

namespace FastPt.Cli.Commands;

/// <summary>The options that fill the HugeTLB pools of a machine before a page query looks at it
/// (<c>fastpt kpageflags</c>, <c>fastpt pagemap</c>): folio counts per size, the HVO design and the switch, named as
/// <c>fastpt hugetlb</c> names them.</summary>
internal sealed class HugeTlbPoolOptions
{
    private HugeTlbPoolOptions(Option<long> pages2M, Option<long> pages1G, Option<string> design, Option<bool> noOptimize)
    {
        Pages2M = pages2M;
        Pages1G = pages1G;
        Design = design;
        NoOptimize = noOptimize;
    }

    public Option<long> Pages2M { get; }

    public Option<long> Pages1G { get; }

    public Option<string> Design { get; }

    public Option<bool> NoOptimize { get; }

    public IEnumerable<Option> All => [Pages2M, Pages1G, Design, NoOptimize];

    /// <summary>New instances of the four options (each command gets its own), the counts defaulting to
    /// <paramref name="default2M"/> and <paramref name="default1G"/> folios.</summary>
    public static HugeTlbPoolOptions Create(long default2M = 0, long default1G = 0)
    {
        Option<long> pages2M = Count("--pages-2m", "2 MiB HugeTLB folios to put in the pool (nr_hugepages of hugepages-2048kB).", default2M);
        Option<long> pages1G = Count("--pages-1g", "1 GiB HugeTLB folios to put in the pool (nr_hugepages of hugepages-1048576kB).", default1G);
        var design = new Option<string>("--design")
        {
            Description = "HVO design: 6x (tails remapped onto the head's page, fake heads) or shared (one shared tail page per zone and order).",
            HelpName = "6x|shared",
            DefaultValueFactory = _ => "6x",
        };
        CommonOptions.AcceptOnly(design, "6x", "shared");
        var noOptimize = new Option<bool>("--no-optimize") { Description = "Leave hugetlb_optimize_vmemmap off (the folios keep their vmemmap)." };
        return new HugeTlbPoolOptions(pages2M, pages1G, design, noOptimize);
    }

    private static Option<long> Count(string name, string description, long defaultCount)
    {
        Func<ArgumentResult, long?> parse = CommonOptions.WholeNumber(name, 0, long.MaxValue);
        return new Option<long>(name)
        {
            Description = description,
            HelpName = "N",
            DefaultValueFactory = _ => defaultCount,
            CustomParser = result => parse(result) ?? defaultCount,
        };
    }

    /// <summary>The HVO design asked for.</summary>
    public HvoDesign DesignOf(ParseResult parse) => parse.GetValue(Design) == "shared" ? HvoDesign.SharedTail : HvoDesign.Linux6x;

    /// <summary>Whether <c>hugetlb_optimize_vmemmap</c> is to be on.</summary>
    public bool OptimizeOf(ParseResult parse) => !parse.GetValue(NoOptimize);

    /// <summary>Machine options with the design and the switch from the command line.</summary>
    public MachineOptions MachineOptions(ParseResult parse, ulong? memory, int levels)
    {
        MachineOptions common = CommonOptions.MachineOptions(memory, levels, checkedMode: false);
        return new MachineOptions
        {
            MemorySize = common.MemorySize,
            PagingMode = common.PagingMode,
            HugeTlbVmemmapDesign = DesignOf(parse),
            HugeTlbOptimizeVmemmap = OptimizeOf(parse),
        };
    }

    /// <summary>The folio counts asked for, 1 GiB first.</summary>
    public IReadOnlyList<(PageSize Size, long Count)> Counts(ParseResult parse) =>
        [(PageSize.Size1G, parse.GetValue(Pages1G)), (PageSize.Size2M, parse.GetValue(Pages2M))];

    /// <summary>Fills the pools (1 GiB first, while large blocks are free); a pool that cannot reach its size is a
    /// clear error with <see cref="ExitCodes.BadInput"/>, naming how far it got.</summary>
    public void FillPools(Machine machine, ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(machine);
        foreach ((PageSize size, long count) in Counts(parse))
        {
            if (count == 0) continue;
            HugeTlbResizeResult result = machine.HugeTlb.TrySetPoolSize(size, count);
            if (!result.IsSuccess)
            {
                string option = size == PageSize.Size2M ? "--pages-2m" : "--pages-1g";
                throw new CliException($"{option} {count}: the pool reached {result.Counts.Total:N0} of {count:N0} folios "
                    + $"({result.Detail}); a larger --memory holds more", ExitCodes.BadInput);
            }
        }
    }

    /// <summary>Takes every folio out of the pools (as a process faulting them in would), 1 GiB ones first.</summary>
    public static List<HugeTlbFolio> TakeAll(Machine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var folios = new List<HugeTlbFolio>();
        foreach (PageSize size in new[] { PageSize.Size1G, PageSize.Size2M })
        {
            while (machine.HugeTlb.GetCounts(size).Free > 0 && machine.HugeTlb.TryAllocateFolio(size, out HugeTlbFolio folio))
                folios.Add(folio);
        }
        return folios;
    }

    /// <summary>One line on what the pools hold: "design 6x, hugetlb_optimize_vmemmap on, 4 × 2M".</summary>
    public static string Describe(Machine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        HugeTlbStatistics stats = machine.HugeTlb.GetStatistics();
        var parts = new List<string>
        {
            "HVO design " + (stats.Design == HvoDesign.SharedTail ? "shared" : "6x"),
            "hugetlb_optimize_vmemmap " + (stats.OptimizeVmemmap ? "on" : "off"),
        };
        foreach (PageSize size in new[] { PageSize.Size2M, PageSize.Size1G })
        {
            HugeTlbSizeStatistics s = stats.For(size);
            if (s.Counts.Total > 0)
                parts.Add(FormattableString.Invariant($"{s.Counts.Total:N0} × {size.ShortName()} folios ({s.FoliosOptimizedNow:N0} optimized)"));
        }
        return string.Join(", ", parts);
    }

    /// <summary>Where the folios are mapped by default: 512 GiB, aligned for 1 GiB leaves (the page-file base).</summary>
    public const ulong DefaultBase = PageSets.PageSetReplayer.DefaultBase;

    /// <summary>Maps <paramref name="folios"/> one after another from <paramref name="baseVa"/>, each as one leaf of
    /// its size at the next address aligned to it (a MAP_HUGETLB mapping each), read-write.</summary>
    public static List<(HugeTlbFolio Folio, ulong Va)> MapAll(Machine machine, AddressSpace space, IEnumerable<HugeTlbFolio> folios, ulong baseVa)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(folios);
        var mapped = new List<(HugeTlbFolio, ulong)>();
        ulong va = baseVa;
        foreach (HugeTlbFolio folio in folios)
        {
            va = (va + folio.Bytes - 1) & ~(folio.Bytes - 1);
            machine.HugeTlb.MapFolio(space, new VirtAddr(va), folio, Protection.ReadWrite);
            mapped.Add((folio, va));
            va += folio.Bytes;
        }
        return mapped;
    }

    /// <summary>The machine and pool facts every page query's JSON starts with.</summary>
    public static void WritePools(System.Text.Json.Utf8JsonWriter json, Machine machine)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(machine);
        HugeTlbStatistics stats = machine.HugeTlb.GetStatistics();
        json.WriteNumber("memoryBytes", machine.Options.MemorySize);
        json.WriteString("design", stats.Design == HvoDesign.SharedTail ? "shared" : "6x");
        json.WriteBoolean("optimizeVmemmap", stats.OptimizeVmemmap);
        json.WriteStartArray("pools");
        foreach (PageSize size in new[] { PageSize.Size2M, PageSize.Size1G })
        {
            HugeTlbSizeStatistics s = stats.For(size);
            json.WriteStartObject();
            json.WriteString("size", size.ShortName());
            json.WriteNumber("folios", s.Counts.Total);
            json.WriteNumber("foliosOptimized", s.FoliosOptimizedNow);
            json.WriteNumber("memmapPagesFreed", s.VmemmapPagesFreed);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>Frames in one folio of <paramref name="size"/>.</summary>
    public static ulong FramesOf(PageSize size) => size.Bytes() >> 12;
}
