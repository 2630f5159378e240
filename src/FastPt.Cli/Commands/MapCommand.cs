using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt map --svg FILE</c>: draws the kernel map (direct map and vmemmap) or a user address space
/// as an SVG picture, one cell per 2 MiB (per 1 GiB when the range is large), coloured by the leaf size that maps
/// it — of a freshly booted machine, at the state a scenario reports worth a picture, or after a page file.</summary>
internal static class MapCommand
{
    private const string User = "user";
    private const string Kernel = "kernel";

    /// <summary>Unmapped stretches longer than this split a default range into bands of their own; shorter ones
    /// fold into a line inside a band.</summary>
    private const ulong BandGap = 64UL << 30;

    public static Command Create(CliEnvironment environment)
    {
        var svg = new Option<string?>("--svg")
        {
            Description = "SVG file to write (replaced if it exists; nothing is written unless the whole picture is drawn).",
            HelpName = "FILE",
            Required = true,
        };
        svg.Validators.Add(result =>
        {
            if (CommonOptions.OutputFileError(result.Tokens.Count > 0 ? result.Tokens[0].Value : null, "--svg", "map.svg") is { } error) result.AddError(error);
        });
        var space = new Option<string?>("--space")
        {
            Description = "What to draw: kernel (the direct map and vmemmap; the default) or user (the address space of "
                + "--scenario or --pages).",
            HelpName = "user|kernel",
        };
        CommonOptions.AcceptOnly(space, User, Kernel);
        var range = new Option<AddressRange?>("--va")
        {
            Description = "Range to draw: START-END or START+LENGTH (hex or sizes). Default: the mapped span of the "
                + "direct map and of the vmemmap, or of the user address space. A cell is 2 MiB while the range "
                + string.Create(CultureInfo.InvariantCulture, $"holds at most {MapPicture.MaximumCells:N0} of them, else 1 GiB."),
            HelpName = "RANGE",
            CustomParser = CommonOptions.Parser<AddressRange>("--va", AddressRange.TryParse),
        };
        var scenario = new Option<string?>("--scenario")
        {
            Description = "Run this scenario and draw the first state it reports worth a picture (paging: its "
                + "4K/2M/1G address space after the splits; replay-synthetic: a process-like address space; hotplug: "
                + "the kernel map after the hot-adds; hugetlb: the kernel map with the memmap HVO remapped read-only), or for the kernel map of a scenario that reports none, the machine after it.",
            HelpName = "NAME",
        };
        scenario.Validators.Add(result =>
        {
            string name = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ScenarioCatalog.Find(name) is null)
                result.AddError($"--scenario: unknown scenario {TextFormat.Quote(name)}; known scenarios: {string.Join(", ", ScenarioCatalog.All.Select(s => s.Name))}");
        });
        Option<int> at = CommonOptions.Integer("--at", "With --scenario: draw the Nth state it reports that shows the space asked for "
            + "(paging: 1 after mapping, 2 after the splits; hotplug: 1 after the hot-adds, 2 halfway through removing a section; hugetlb: 1 after growing the 2 MiB pool, 2 the 1 GiB pool).",
            "N", 1, minimum: 1, maximum: int.MaxValue);
        Option<ulong?> memory = CommonOptions.Memory();
        Option<int> levels = CommonOptions.Levels();
        Option<int> seed = CommonOptions.Seed();
        Option<string?> pages = CommonOptions.Pages(required: false);
        Option<ulong?> baseAddress = CommonOptions.Base();
        var command = new Command("map", "Draw the kernel map or a user address space as an SVG picture: a cell per 2 MiB "
            + "(or 1 GiB) coloured by leaf size, PTE-table fill as shade, 0xFD-marked memmap in the vmemmap.")
        {
            svg, space, range, scenario, at, memory, levels, seed, pages, baseAddress,
        };
        command.Validators.Add(result =>
        {
            bool fromPages = result.GetResult(pages) is not null;
            string? what = result.GetResult(space) is { } given && given.Tokens.Count > 0 ? given.Tokens[0].Value : null;
            if (fromPages && result.GetResult(scenario) is not null)
                result.AddError("--pages and --scenario both give the address space to draw: give one");
            else if (fromPages && what == Kernel)
                result.AddError("--pages fills a user address space: draw it with --space user (the default with --pages)");
            else if (what == User && !fromPages && result.GetResult(scenario) is null)
                result.AddError("--space user needs an address space: give --scenario NAME (paging or replay-synthetic) or --pages FILE");
            if (result.GetResult(at) is { Implicit: false } && result.GetResult(scenario) is null)
                result.AddError("--at picks a state of a scenario: give --scenario NAME as well");
            if (!fromPages && result.GetResult(baseAddress) is not null)
                result.AddError("--base applies to a page file: give --pages FILE as well");
        });
        command.SetAction(parse =>
        {
            string path = parse.GetValue(svg)!;
            string? pageFile = parse.GetValue(pages);
            bool user = (parse.GetValue(space) ?? (pageFile is null ? Kernel : User)) == User;
            string? scenarioName = parse.GetValue(scenario);
            var request = new Request(user, parse.GetValue(range));
            // The temporary file is created first, so that an unwritable directory fails before the machine boots.
            using var output = new OutputFile(path, "--svg", ExitCodes.Usage);
            MachineOptions options = CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false);
            using Machine machine = CommonOptions.Boot(options, environment);
            MapPicture picture;
            if (scenarioName is not null)
                picture = DrawScenario(environment, machine, ScenarioCatalog.Find(scenarioName)!, parse.GetValue(seed), parse.GetValue(at), request);
            else if (pageFile is not null)
                picture = DrawPages(environment, machine, pageFile, parse.GetValue(baseAddress) ?? PageSets.PageSetReplayer.DefaultBase, request);
            else
                picture = environment.WithStatus("drawing the kernel map", () => Draw(machine, null, request, "freshly booted"));
            using (FileStream stream = output.OpenWrite()) SvgMapWriter.Write(picture, stream);
            output.Commit();
            long cells = picture.Bands.Sum(band => band.Rows.OfType<CellRow>().Sum(row => (long)row.Cells.Count));
            environment.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {TextFormat.Quote(path, 200)}: {picture.Title}; {cells:N0} cells in ")
                + string.Join(", ", picture.Bands.Select(band => $"{band.Name} ({SvgMapWriter.Readable(band.CellBytes)} a cell)")));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>What to draw: the user address space or the kernel map, and the range the user asked for.</summary>
    internal sealed record Request(bool User, AddressRange? Range);

    /// <summary>Runs <paramref name="scenario"/> and draws at the <paramref name="at"/>th checkpoint that shows
    /// what was asked for. A failed or skipped scenario draws nothing.</summary>
    private static MapPicture DrawScenario(CliEnvironment environment, Machine machine, IScenario scenario, int seed, int at, Request request)
    {
        MapPicture? picture = null;
        Exception? drawError = null;
        var states = new List<string>();
        var context = new ScenarioContext(machine, seed)
        {
            Checkpoints = checkpoint =>
            {
                if (request.User && checkpoint.Space is null) return;
                states.Add(checkpoint.State);
                if (states.Count != at) return;
                // An error here must not become the scenario's failed check: it is kept and thrown after the run.
                try
                {
                    picture = Draw(machine, checkpoint.Space, request, $"scenario {scenario.Name}, {checkpoint.State}");
                }
                catch (CliException exception)
                {
                    drawError = exception;
                }
            },
        };
        ScenarioReport report = environment.WithStatus($"running scenario {scenario.Name} and drawing", () => ScenarioRunner.Run(scenario, context));
        if (report.NotRunReason is { } reason)
            throw new CliException($"scenario {scenario.Name} could not run: {reason}; nothing was drawn", ExitCodes.BadInput);
        if (!report.Passed)
        {
            string failed = report.Checks.FirstOrDefault(check => !check.Passed) is { } check ? $" ({check.Name}: {check.Detail})" : "";
            throw new CliException($"scenario {scenario.Name} failed{failed}; nothing was drawn", ExitCodes.ChecksFailed);
        }
        if (drawError is not null) throw drawError;
        if (picture is not null) return picture;
        string what = request.User ? "user address space" : "machine";
        if (states.Count > 0)
        {
            string list = string.Join("; ", states.Select((state, i) => string.Create(CultureInfo.InvariantCulture, $"{i + 1}: {state}")));
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"--at {at}: scenario {scenario.Name} reports {TextFormat.Count(states.Count, "state")} of its {what} ({list})"));
        }
        if (at > 1) throw new CliException($"--at {at.ToString(CultureInfo.InvariantCulture)}: scenario {scenario.Name} reports no state of its {what}");
        if (request.User)
            throw new CliException($"scenario {scenario.Name} reports no user address space to draw (paging and replay-synthetic do): draw its kernel map with --space kernel");
        return Draw(machine, null, request, $"after scenario {scenario.Name}");
    }

    private static MapPicture DrawPages(CliEnvironment environment, Machine machine, string path, ulong baseAddress, Request request)
    {
        using AddressSpace space = PageFileReplay.CreateSpace(machine, baseAddress);
        PageFileReplay.Run(environment, environment.CreateConsole(), space, path, baseAddress);
        return environment.WithStatus("drawing the address space",
            () => Draw(machine, space, request, "replayed from page file " + TextFormat.Quote(Path.GetFileName(path), 80)));
    }

    /// <summary>Captures the picture: of <paramref name="space"/> when drawing the user address space, else of
    /// the kernel map. <paramref name="state"/> says in the title what state the machine is in.</summary>
    internal static MapPicture Draw(Machine machine, AddressSpace? space, Request request, string state)
    {
        MachineOptions options = machine.Options;
        string machineText = $"{SvgMapWriter.Readable(options.MemorySize)} RAM, "
            + (machine.PagingMode == PagingMode.FiveLevel ? "5-level paging (57-bit)" : "4-level paging (48-bit)");
        if (request.User)
        {
            AddressSpace userSpace = space!;
            var picture = new MapPicture($"User address space · {machineText} · {state}", User);
            MapPicture.Counter count = (start, length) => userSpace.CountMappings(new VirtAddr(start), length);
            ulong top = userSpace.UserTop.Value;
            if (request.Range is { } given)
            {
                if (given.End > top) throw new CliException($"--va {given} leaves the user range, which ends at {userSpace.UserTop}");
                AddBand(picture, "user address space", given.Start, given.End, count, null);
            }
            else
            {
                // A process maps a few areas terabytes apart (text and heap, mmaps, stack): a band for each.
                List<(ulong Start, ulong End)> spans = MappedSpans(count, 0, top);
                if (spans.Count == 0) throw new CliException("the user address space maps nothing: there is nothing to draw", ExitCodes.BadInput);
                for (int i = 0; i < spans.Count; i++)
                {
                    string name = spans.Count == 1 ? "user address space" : string.Create(CultureInfo.InvariantCulture, $"user address space, area {i + 1} of {spans.Count}");
                    AddBand(picture, name, spans[i].Start, spans[i].End, count, null);
                }
            }
            return picture;
        }

        var kernel = new MapPicture($"Kernel page tables · {machineText} · {state}", Kernel);
        MapPicture.Counter kernelCount = (start, length) => machine.CountKernelMappings(new VirtAddr(start), length);
        if (request.Range is { } range)
        {
            DumpCommand.RequireCanonical(machine.PagingMode, range);
            ulong vmemmapEnd = machine.VmemmapBase.Value + VmemmapBytes(machine);
            bool vmemmap = range.Start < vmemmapEnd && range.End > machine.VmemmapBase.Value;
            AddBand(kernel, "kernel page tables", range.Start, range.End, kernelCount, vmemmap ? machine : null);
            return kernel;
        }
        ulong direct = machine.DirectMapBase.Value;
        ulong memmap = machine.VmemmapBase.Value;
        // Where the maps are filled depends on boot memory and hot-adds: search the whole window of each.
        AddBands(kernel, "direct map", MappedSpans(kernelCount, direct, direct + machine.MaxPhysicalAddress.Value), kernelCount, null);
        AddBands(kernel, "vmemmap (struct pages)", MappedSpans(kernelCount, memmap, memmap + VmemmapBytes(machine)), kernelCount, machine);
        return kernel;
    }

    /// <summary>The vmemmap window: a 64-byte descriptor per 4 KiB frame of the physical address space.</summary>
    private static ulong VmemmapBytes(Machine machine) => machine.MaxPhysicalAddress.Value / 4096 * 64;

    private static void AddBand(MapPicture picture, string name, ulong start, ulong end, MapPicture.Counter count, Machine? vmemmapOf)
    {
        ulong cell = MapPicture.CellSizeFor(start, end)
            ?? throw new CliException($"{name} {MapPicture.GroupedHex(start)}-{MapPicture.GroupedHex(end)} spans {SvgMapWriter.Readable(end - start)}: "
                + string.Create(CultureInfo.InvariantCulture, $"a picture holds at most {MapPicture.MaximumCells:N0} cells of 1 GiB; give a smaller --va"));
        picture.AddBand(name, start, end, cell, count, vmemmapOf);
    }

    private static void AddBands(MapPicture picture, string name, List<(ulong Start, ulong End)> spans, MapPicture.Counter count, Machine? vmemmapOf)
    {
        for (int i = 0; i < spans.Count; i++)
        {
            string band = spans.Count == 1 ? name : string.Create(CultureInfo.InvariantCulture, $"{name}, part {i + 1} of {spans.Count}");
            AddBand(picture, band, spans[i].Start, spans[i].End, count, vmemmapOf);
        }
    }

    /// <summary>The mapped spans of [start, end), from the first to the end of the last mapped 2 MiB of each,
    /// split where more than <see cref="BandGap"/> maps nothing: the 1 GiB granules that map anything are found
    /// by splitting into at most 512 parts per step and descending only into parts that map something, then each
    /// span's ends are narrowed to 2 MiB the same way.</summary>
    private static List<(ulong Start, ulong End)> MappedSpans(MapPicture.Counter count, ulong start, ulong end)
    {
        var granules = new List<ulong>();
        CollectGranules(count, start, end, granules);
        var spans = new List<(ulong Start, ulong End)>();
        foreach (ulong granule in granules)
        {
            if (spans.Count > 0 && granule - spans[^1].End <= BandGap) spans[^1] = (spans[^1].Start, granule + MapPicture.Cell1G);
            else spans.Add((granule, granule + MapPicture.Cell1G));
        }
        for (int i = 0; i < spans.Count; i++)
        {
            ulong from = Math.Max(spans[i].Start, start), to = Math.Min(spans[i].End, end);
            spans[i] = (Edge(count, from, to, lowest: true)!.Value, Edge(count, from, to, lowest: false)!.Value + MapPicture.Cell2M);
        }
        return spans;
    }

    /// <summary>Adds, in order, the 1 GiB-aligned granules of [start, end) that map something.</summary>
    private static void CollectGranules(MapPicture.Counter count, ulong start, ulong end, List<ulong> granules)
    {
        if (count(start, end - start).Total.Leaves == 0) return;
        if (end - start <= MapPicture.Cell1G)
        {
            for (ulong granule = start & ~(MapPicture.Cell1G - 1); granule < end; granule += MapPicture.Cell1G)
            {
                ulong from = Math.Max(granule, start), to = Math.Min(granule + MapPicture.Cell1G, end);
                bool known = granules.Count > 0 && granules[^1] == granule;
                if (!known && count(from, to - from).Total.Leaves > 0) granules.Add(granule);
            }
            return;
        }
        ulong part = MapPicture.Cell1G;
        while ((end - start) / part > 512) part <<= 9;
        for (ulong at = start & ~(part - 1); at < end; at += part)
            CollectGranules(count, Math.Max(at, start), Math.Min(at + part, end), granules);
    }

    private static ulong? Edge(MapPicture.Counter count, ulong start, ulong end, bool lowest)
    {
        if (count(start, end - start).Total.Leaves == 0) return null;
        while (end - start > MapPicture.Cell2M)
        {
            ulong part = MapPicture.Cell2M;
            while ((end - start) / part > 512) part <<= 9;
            ulong first = start & ~(part - 1);
            long parts = (long)((end - first + part - 1) / part);
            bool found = false;
            for (long i = 0; i < parts && !found; i++)
            {
                ulong at = first + (ulong)(lowest ? i : parts - 1 - i) * part;
                ulong from = Math.Max(at, start), to = Math.Min(at + part, end);
                if (count(from, to - from).Total.Leaves == 0) continue;
                (start, end, found) = (from, to, true);
            }
            Debug.Assert(found, "a range that maps something has a part that maps something");
        }
        return start & ~(MapPicture.Cell2M - 1);
    }
}
