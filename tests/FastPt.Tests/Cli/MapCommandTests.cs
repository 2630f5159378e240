using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using FastPt.Cli.Commands;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary><c>fastpt map --svg</c>: every cell of the picture against the engine's dump walk, the kernel view with
/// 0xFD-marked memmap, scenarios, and errors that write nothing.</summary>
public class MapCommandTests
{
    private const ulong KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
    private const ulong UserBase = 0x0000_0080_0000_0000;
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>Maps 1G, 2M and 4K leaves in known shapes: a whole 1G leaf, six 2M leaves, a full PTE table, a
    /// PTE table with 100 entries, one with 1 entry, a run of 4K pages across a 2 MiB boundary, and a lone page
    /// 3 GiB further on (empty rows in between).</summary>
    private static AddressSpace MapMix(Machine machine)
    {
        AddressSpace space = machine.CreateAddressSpace();
        ulong pa = 8 * GiB;
        space.Map(new VirtAddr(UserBase), new PhysAddr(pa), GiB, Protection.ReadWrite, PageSize.Size1G);
        ulong at = UserBase + GiB;
        space.Map(new VirtAddr(at), new PhysAddr(pa + GiB), 6 * 2 * MiB, Protection.ReadWrite, PageSize.Size2M);
        at += 6 * 2 * MiB;
        space.Map(new VirtAddr(at), new PhysAddr(pa + 2 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        at += 2 * MiB;
        space.Map(new VirtAddr(at), new PhysAddr(pa + 3 * GiB), 100 * 4 * KiB, Protection.Read, PageSize.Size4K);
        at += 2 * MiB;
        space.Map(new VirtAddr(at + 0x1000), new PhysAddr(pa + 4 * GiB), 4 * KiB, Protection.ReadWrite, PageSize.Size4K);
        at += 4 * MiB - 3 * 4 * KiB;
        space.Map(new VirtAddr(at), new PhysAddr(pa + 5 * GiB), 7 * 4 * KiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(new VirtAddr(UserBase + 4 * GiB + 0x5000), new PhysAddr(pa + 6 * GiB), 4 * KiB, Protection.ReadWrite, PageSize.Size4K);
        return space;
    }

    private static XDocument Render(MapPicture picture)
    {
        using var stream = new MemoryStream();
        SvgMapWriter.Write(picture, stream);
        stream.Position = 0;
        return XDocument.Load(stream);
    }

    private static ulong Hex(XElement element, string attribute) =>
        ulong.Parse(((string)element.Attribute(attribute)!)[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>Checks every cell and gap of every band against <paramref name="dump"/> (runs of leaves of the
    /// range, from the engine's dump walk): they tile the band in order, each cell's leaf class and mapped bytes
    /// are what the runs inside it say, and a gap holds no run. Returns the cells by leaf.</summary>
    private static Dictionary<string, int> CheckCells(XDocument svg, Func<ulong, ulong, IReadOnlyList<MappingRun>> dump)
    {
        var leaves = new Dictionary<string, int>();
        XElement[] bands = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "map-band").ToArray();
        Assert.NotEmpty(bands);
        foreach (XElement band in bands)
        {
            ulong cell = ulong.Parse((string)band.Attribute("data-cell")!, CultureInfo.InvariantCulture);
            ulong next = Hex(band, "data-start");
            foreach (XElement element in band.Descendants())
            {
                string cls = (string?)element.Attribute("class") ?? "";
                if (element.Name == Svg + "text" && cls == "gap")
                {
                    ulong start = Hex(element, "data-start"), end = Hex(element, "data-end");
                    Assert.Equal(next, start);
                    Assert.Empty(dump(start, end - start));
                    next = end;
                    continue;
                }
                if (element.Name != Svg + "rect" || !cls.Split(' ').Contains("cell")) continue;
                ulong va = Hex(element, "data-va");
                Assert.Equal(next, va);
                next = va + cell;
                ulong bytes4K = 0, bytes2M = 0;
                bool has1G = false;
                foreach (MappingRun run in dump(va, cell))
                {
                    ulong from = Math.Max(run.Start.Value, va), to = Math.Min(run.Start.Value + run.Length, va + cell);
                    Assert.True(to > from, $"dump of {va:x} returned a run outside it: {run}");
                    if (run.PageSize == PageSize.Size1G) has1G = true;
                    else if (run.PageSize == PageSize.Size4K) bytes4K += to - from;
                    else if (run.PageSize == PageSize.Size2M) bytes2M += to - from;
                }
                (string leaf, string colour) = has1G ? ("1G", "g1")
                    : bytes4K > 0 && bytes2M > 0 ? ("mixed", "mixed")
                    : bytes4K > 0 ? ("4K", "k4")
                    : bytes2M > 0 ? ("2M", "m2")
                    : ("none", "none");
                Assert.True((string?)element.Attribute("data-leaf") == leaf, $"cell 0x{va:x}: leaf {(string?)element.Attribute("data-leaf")}, the dump says {leaf}");
                Assert.Equal("cell " + colour, cls);
                if (leaf is "4K" or "mixed")
                    Assert.Equal(bytes4K + bytes2M, ulong.Parse((string)element.Attribute("data-mapped")!, CultureInfo.InvariantCulture));
                else
                    Assert.Null(element.Attribute("data-mapped"));
                leaves[leaf] = leaves.GetValueOrDefault(leaf) + 1;
            }
            Assert.Equal(Hex(band, "data-end"), next);
        }
        return leaves;
    }

    [Fact]
    public void Every_cell_of_a_user_space_with_4K_2M_and_1G_leaves_matches_the_dump()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 256 * MiB });
        using AddressSpace space = MapMix(machine);
        IReadOnlyList<MappingRun> Dump(ulong start, ulong length) => space.Dump(new VirtAddr(start), length, int.MaxValue);

        MapPicture picture = MapCommand.Draw(machine, space, new MapCommand.Request(true, null), "test mix");
        XDocument svg = Render(picture);
        Dictionary<string, int> leaves = CheckCells(svg, Dump);
        // The default range is the mapped span: from the 1G leaf to the lone page, in 2 MiB cells.
        XElement band = svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "map-band");
        Assert.Equal(UserBase, Hex(band, "data-start"));
        Assert.Equal(UserBase + 4 * GiB + 2 * MiB, Hex(band, "data-end"));
        Assert.Equal("2097152", (string?)band.Attribute("data-cell"));
        Assert.Equal(512, leaves["1G"]);
        Assert.Equal(6, leaves["2M"]);
        Assert.Equal(6, leaves["4K"]); // full, 100, 1, the run across a boundary (2 cells), the lone page
        Assert.Contains(svg.Descendants(Svg + "text"), text => (string?)text.Attribute("class") == "gap");
        Assert.Contains("256 MiB RAM", svg.Root!.Element(Svg + "title")!.Value, StringComparison.Ordinal);
        Assert.Contains("one cell = 2 MiB", svg.ToString(), StringComparison.Ordinal);
        // A PTE table's fill is the cell's shade: 100 entries of 512.
        XElement partial = svg.Descendants(Svg + "rect").Single(r => (string?)r.Attribute("data-va") == $"0x{UserBase + GiB + 14 * MiB:x}");
        Assert.Equal((100 * 4 * KiB).ToString(CultureInfo.InvariantCulture), (string?)partial.Attribute("data-mapped"));
        Assert.Equal("fill-opacity:" + (0.2 + 0.8 * 100 / 512).ToString("0.###", CultureInfo.InvariantCulture), (string?)partial.Attribute("style"));
        // No 0xFD entry outside the vmemmap.
        Assert.DoesNotContain("0xFD", svg.ToString(), StringComparison.Ordinal);

        // Zoomed out (a range of more than 8,192 cells of 2 MiB): 1 GiB cells, the second one mixed.
        MapPicture zoomed = MapCommand.Draw(machine, space, new MapCommand.Request(true, new AddressRange(UserBase, UserBase + 20 * GiB)), "test mix");
        XDocument zoomedSvg = Render(zoomed);
        Dictionary<string, int> zoomedLeaves = CheckCells(zoomedSvg, Dump);
        Assert.Equal(1, zoomedLeaves["1G"]);
        Assert.Equal(1, zoomedLeaves["mixed"]);
        Assert.Equal(1, zoomedLeaves["4K"]);
        Assert.Contains("one cell = 1 GiB", zoomedSvg.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_kernel_map_matches_the_kernel_dump_and_counts_the_0xFD_marked_memmap()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = GiB });
        // Four sub-sections in a new 2 MiB vmemmap block, a section elsewhere, then the third sub-section removed:
        // its memmap and the block's unused tail are marked 0xFD.
        long marked = 0;
        var blocks = new HotAddOptions { Population = VmemmapPopulation.PmdBlocksAlways };
        for (ulong i = 0; i < 4; i++) marked += machine.AddMemory(new PhysAddr(2 * GiB + i * 2 * MiB), 2 * MiB, blocks).BytesMarkedUnused;
        marked += machine.AddMemory(new PhysAddr(3 * GiB), 128 * MiB).BytesMarkedUnused;
        marked += machine.RemoveMemory(new PhysAddr(2 * GiB + 4 * MiB), 2 * MiB).BytesMarkedUnused;
        Assert.Equal((long)(2 * MiB - 4 * 32 * KiB + 32 * KiB), marked);
        IReadOnlyList<MappingRun> Dump(ulong start, ulong length) => machine.DumpKernel(new VirtAddr(start), length, int.MaxValue);

        XDocument svg = Render(MapCommand.Draw(machine, null, new MapCommand.Request(false, null), "test hot-add"));
        Dictionary<string, int> leaves = CheckCells(svg, Dump);
        Assert.True(leaves.GetValueOrDefault("2M") > 0 || leaves.GetValueOrDefault("1G") > 0);
        XElement[] bands = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "map-band").ToArray();
        Assert.Equal(["direct map", "vmemmap (struct pages)"], bands.Select(b => (string)b.Attribute("data-name")!));
        // The direct map reaches the end of the added section; the vmemmap the end of its memmap.
        Assert.Equal(machine.DirectMapBase.Value, Hex(bands[0], "data-start"));
        Assert.Equal(machine.DirectMapBase.Value + 3 * GiB + 128 * MiB, Hex(bands[0], "data-end"));
        Assert.Equal(machine.VmemmapBase.Value + (3 * GiB + 128 * MiB) / 4096 * 64, Hex(bands[1], "data-end"));
        long drawn = bands[1].Descendants(Svg + "rect").Sum(r => long.Parse((string?)r.Attribute("data-unused") ?? "0", CultureInfo.InvariantCulture));
        Assert.Equal(marked, drawn);
        Assert.DoesNotContain(bands[0].Descendants(Svg + "rect"), r => r.Attribute("data-unused") is not null);
        Assert.Contains(svg.Descendants(Svg + "rect"), r => (string?)r.Attribute("class") == "fd");
        Assert.Contains("0xFD", svg.ToString(), StringComparison.Ordinal);
        Assert.Contains("Kernel page tables · 1 GiB RAM, 4-level paging (48-bit) · test hot-add", svg.Root!.Element(Svg + "title")!.Value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HvoDesign.Linux6x)]
    [InlineData(HvoDesign.SharedTail)]
    public void The_kernel_map_shows_the_memmap_HVO_remapped_read_only(HvoDesign design)
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 4 * GiB, HugeTlbVmemmapDesign = design, HugeTlbOptimizeVmemmap = true });
        XDocument before = Render(MapCommand.Draw(machine, null, new MapCommand.Request(false, null), "booted"));
        Assert.DoesNotContain(before.Descendants(Svg + "rect"), r => r.Attribute("data-hvo") is not null);
        Assert.DoesNotContain("HVO", before.ToString(), StringComparison.Ordinal); // no legend entry for nothing

        // 64 folios of 2 MiB: each keeps its head's vmemmap page and maps the other 7 read-only (onto the head's page
        // in 6.x, onto the shared tail page in the 2026 design).
        HugeTlbResizeResult grown = machine.HugeTlb.SetPoolSize(PageSize.Size2M, 64);
        Assert.Equal(64, grown.FoliosOptimized);
        XDocument svg = Render(MapCommand.Draw(machine, null, new MapCommand.Request(false, null), "after HVO"));
        CheckCells(svg, (start, length) => machine.DumpKernel(new VirtAddr(start), length, int.MaxValue));
        XElement[] bands = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "map-band").ToArray();
        long drawn = bands[1].Descendants(Svg + "rect").Sum(r => long.Parse((string?)r.Attribute("data-hvo") ?? "0", CultureInfo.InvariantCulture));
        Assert.Equal(64L * 7 * 4096, drawn);
        Assert.DoesNotContain(bands[0].Descendants(Svg + "rect"), r => r.Attribute("data-hvo") is not null);
        Assert.Contains(svg.Descendants(Svg + "rect"), r => (string?)r.Attribute("class") == "hvo");
        Assert.Contains("remapped read-only by HVO", svg.ToString(), StringComparison.Ordinal);

        // Restored: read-write again, nothing drawn.
        machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        machine.RcuBarrier();
        XDocument after = Render(MapCommand.Draw(machine, null, new MapCommand.Request(false, null), "restored"));
        Assert.DoesNotContain(after.Descendants(Svg + "rect"), r => r.Attribute("data-hvo") is not null);
    }

    [Fact]
    public void Map_draws_the_paging_scenario_s_user_space_and_the_hotplug_scenario_s_kernel_map()
    {
        using var directory = new TemporaryDirectory();
        string user = directory.File("paging.svg");
        CliRunner.Result paging = CliRunner.Run("map", "--memory", "4G", "--svg", user, "--space", "user", "--scenario", "paging");
        Assert.True(paging.ExitCode == 0, paging.Error);
        XDocument userSvg = XDocument.Load(user);
        Assert.Contains("scenario paging, after mapping", userSvg.Root!.Element(Svg + "title")!.Value, StringComparison.Ordinal);
        string[] leaves = userSvg.Descendants(Svg + "rect").Select(r => (string?)r.Attribute("data-leaf")).OfType<string>().Distinct().Order().ToArray();
        Assert.Equal(["1G", "2M", "4K"], leaves);
        Assert.Contains("wrote", paging.Output, StringComparison.Ordinal);

        string kernel = directory.File("hotplug.svg");
        CliRunner.Result hotplug = CliRunner.Run("--svg", kernel, "map", "--scenario", "hotplug", "-m", "1G", "--at", "2");
        Assert.True(hotplug.ExitCode == 0, hotplug.Error);
        XDocument kernelSvg = XDocument.Load(kernel);
        Assert.Contains("scenario hotplug, halfway through removing a section", kernelSvg.Root!.Element(Svg + "title")!.Value, StringComparison.Ordinal);
        Assert.Contains(kernelSvg.Descendants(Svg + "rect"), r => r.Attribute("data-unused") is not null);
        Assert.Equal(["hotplug.svg", "paging.svg"], Directory.GetFiles(directory.Path).Select(Path.GetFileName).Order());
    }

    [Theory]
    [InlineData(2, "is a directory", "--svg", "{dir}")]
    [InlineData(2, "does not exist", "--svg", "{dir}/no/such.svg")]
    [InlineData(2, "cannot be written", "--svg", "/proc/fastpt-map-test.svg")]
    [InlineData(2, "--space user needs an address space", "--svg", "{file}", "--space", "user")]
    [InlineData(2, "--pages and --scenario both", "--svg", "{file}", "--pages", "{pages}", "--scenario", "paging")]
    [InlineData(2, "--pages fills a user address space", "--svg", "{file}", "--pages", "{pages}", "--space", "kernel")]
    [InlineData(2, "unknown scenario 'nosuch'", "--svg", "{file}", "--scenario", "nosuch")]
    [InlineData(2, "reports no user address space", "--svg", "{file}", "--scenario", "boot", "--space", "user")]
    [InlineData(2, "a picture holds at most 8,192 cells of 1 GiB", "--svg", "{file}", "--va", "0xffff888000000000+16T")]
    [InlineData(2, "leaves the user range", "--svg", "{file}", "--pages", "{pages}", "--va", "0x7fffffe00000+4M")]
    [InlineData(2, "Option '--svg' is required", "--space", "kernel")]
    [InlineData(2, "--at picks a state of a scenario", "--svg", "{file}", "--at", "2")]
    [InlineData(2, "--at 3: scenario hotplug reports 2 states of its machine (1: after the hot-adds", "--svg", "{file}", "--scenario", "hotplug", "--at", "3")]
    [InlineData(3, "maps nothing", "--svg", "{file}", "--pages", "{empty}")]
    public void A_bad_map_command_is_a_clear_error_and_leaves_the_file_as_it_was(int exitCode, string message, params string[] args)
    {
        using var directory = new TemporaryDirectory();
        string file = directory.File("map.svg");
        File.WriteAllText(file, "before");
        string pages = directory.File("pages.txt");
        File.WriteAllText(pages, "0\n1\n2\n");
        string empty = directory.File("empty.txt");
        File.WriteAllText(empty, "# no pages\n");
        string[] expanded = args.Select(a => a.Replace("{dir}", directory.Path, StringComparison.Ordinal)
            .Replace("{file}", file, StringComparison.Ordinal).Replace("{pages}", pages, StringComparison.Ordinal).Replace("{empty}", empty, StringComparison.Ordinal)).ToArray();
        bool boots = !expanded.Contains("--memory");
        CliRunner.Result result = CliRunner.Run(["map", .. expanded, .. boots ? new[] { "--memory", "64M" } : []]);
        Assert.True(result.ExitCode == exitCode, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.Equal("before", File.ReadAllText(file));
        Assert.Equal(["empty.txt", "map.svg", "pages.txt"], Directory.GetFiles(directory.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_page_file_is_drawn_as_its_user_space()
    {
        using var directory = new TemporaryDirectory();
        string pages = directory.File("pages.txt");
        File.WriteAllLines(pages, Enumerable.Range(0, 700).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        string file = directory.File("pages.svg");
        CliRunner.Result result = CliRunner.Run("map", "--svg", file, "--pages", pages, "--memory", "64M");
        Assert.True(result.ExitCode == 0, result.Error);
        XDocument svg = XDocument.Load(file);
        XElement[] cells = svg.Descendants(Svg + "rect").Where(r => r.Attribute("data-leaf") is not null).ToArray();
        Assert.Equal(["4K", "4K"], cells.Select(c => (string)c.Attribute("data-leaf")!));
        Assert.Equal(["2097152", "770048"], cells.Select(c => (string)c.Attribute("data-mapped")!));
        Assert.Contains("replayed from page file 'pages.txt'", svg.Root!.Element(Svg + "title")!.Value, StringComparison.Ordinal);
    }
}
