using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using System.Text.Json;
using FastPt.Cli.KernelCheck;
using FastPt.Cli.PageSets;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt kernel-check</c>: the same page set on the running Linux kernel (VmPTE growth over a fresh
/// region) and on FastPt (an empty address space), side by side per level, PASS or FAIL; with <c>--hugetlb</c>, the
/// vmemmap pages HVO frees for the same HugeTLB folios (<see cref="KernelCheckHugeTlb"/>).</summary>
internal static class KernelCheckCommand
{
    /// <summary>Page indices of a page file must stay below 2^34 (64 TiB of address space).</summary>
    private const ulong PageFileLimit = PagePattern.MaximumSpanBytes / 4096;

    public static Command Create(CliEnvironment environment)
    {
        Option<string?> pages = CommonOptions.Pages(required: false);
        pages.Description = "Page file in the format of 'fastpt replay --pages' (page indices from the start of the region).";
        var pattern = new Option<string?>("--pattern")
        {
            Description = "Page set to build: dense (every page of a range), stride2m (one page per 2 MiB), stride1g "
                + "(one per 1 GiB) or random (distinct random pages in --span). Default dense.",
            HelpName = "dense|stride2m|stride1g|random",
        };
        CommonOptions.AcceptOnly(pattern, "dense", "stride2m", "stride1g", "random");
        var count = new Option<long?>("--count")
        {
            Description = "Pages in the pattern. Default 4096 (dense, random), 512 (stride2m), 600 (stride1g: crosses a 512 GiB boundary).",
            HelpName = "N",
            CustomParser = CommonOptions.WholeNumber("--count", 1, long.MaxValue),
        };
        Func<ArgumentResult, long?> parseSeed = CommonOptions.WholeNumber("--seed", int.MinValue, int.MaxValue);
        var seed = new Option<int?>("--seed") { Description = "Seed of the random pattern. Default 1.", HelpName = "N", CustomParser = result => (int?)parseSeed(result) };
        var span = new Option<ulong?>("--span")
        {
            Description = "Range the random pattern draws from. Default 8G.",
            HelpName = "SIZE",
            CustomParser = CommonOptions.Parser<ulong>("--span", SizeParser.TryParse),
        };
        var hugetlb = new Option<bool>("--hugetlb")
        {
            Description = "Instead of page tables, compare the vmemmap pages HugeTLB vmemmap optimization frees and re-allocates "
                + "when the kernel's pools grow and shrink. Needs root; changes vm.hugetlb_optimize_vmemmap and nr_hugepages "
                + "while it runs and restores them. For test machines.",
        };
        Option<long?> pages2M = FolioCount("--pages-2m", PageSize.Size2M,
            $"2 MiB folios for --hugetlb. Default {KernelCheckHugeTlb.DefaultPages2M} when neither --pages-2m nor --pages-1g is given, else 0.");
        Option<long?> pages1G = FolioCount("--pages-1g", PageSize.Size1G,
            $"1 GiB folios for --hugetlb (the kernel may get fewer; only those are compared). Default {KernelCheckHugeTlb.DefaultPages1G} when neither count is given, else 0.");
        var design = new Option<string?>("--design")
        {
            Description = "FastPt's HVO design for --hugetlb: 6x (fake heads, as Linux 6.x) or shared (one shared tail page per zone and order). Default 6x.",
            HelpName = "6x|shared",
        };
        CommonOptions.AcceptOnly(design, "6x", "shared");
        Option<int> levels = CommonOptions.Levels();
        Option<ulong?> memory = CommonOptions.Memory();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("kernel-check",
            "Map the same pages in the running Linux kernel and in FastPt and compare the page tables per level (VmPTE); exit 1 on a mismatch. "
            + "With --hugetlb (root, test machines), compare the vmemmap pages HugeTLB vmemmap optimization frees.")
        {
            pages, pattern, count, seed, span, hugetlb, pages2M, pages1G, design, levels, memory, json,
        };
        command.SetAction(parse =>
        {
            string? path = parse.GetValue(pages);
            string? patternName = parse.GetValue(pattern);
            if (parse.GetValue(hugetlb))
            {
                foreach ((string name, bool given) in new[]
                {
                    ("--pages", path is not null), ("--pattern", patternName is not null), ("--count", parse.GetValue(count) is not null),
                    ("--seed", parse.GetValue(seed) is not null), ("--span", parse.GetValue(span) is not null),
                })
                {
                    if (given) throw new CliException($"{name} chooses pages for the page-table check; --hugetlb compares HugeTLB folios (--pages-2m, --pages-1g)");
                }
                MachineOptions common = CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false);
                HugeTlbRequest request = KernelCheckHugeTlb.Request(parse.GetValue(pages2M), parse.GetValue(pages1G), common.MemorySize);
                var machineOptions = new MachineOptions
                {
                    MemorySize = common.MemorySize,
                    PagingMode = common.PagingMode,
                    HugeTlbVmemmapDesign = parse.GetValue(design) == "shared" ? HvoDesign.SharedTail : HvoDesign.Linux6x,
                };
                return KernelCheckHugeTlb.Run(environment, request, machineOptions, parse.GetValue(json));
            }
            foreach ((string name, bool given) in new[]
            {
                ("--pages-2m", parse.GetValue(pages2M) is not null), ("--pages-1g", parse.GetValue(pages1G) is not null), ("--design", parse.GetValue(design) is not null),
            })
            {
                if (given) throw new CliException($"{name} applies to --hugetlb");
            }
            if (path is not null && patternName is not null) throw new CliException("give --pages FILE or --pattern, not both");
            if (path is not null && parse.GetValue(count) is not null) throw new CliException("--count applies to --pattern; a page file gives its own pages");
            PagePatternKind kind = PagePattern.Parse(patternName ?? "dense")!.Value;
            if (parse.GetValue(seed) is not null && (path is not null || kind != PagePatternKind.Random))
                throw new CliException("--seed applies to --pattern random");
            if (parse.GetValue(span) is not null && (path is not null || kind != PagePatternKind.Random))
                throw new CliException("--span applies to --pattern random");
            if (HostSupport.Unsupported() is { } reason) throw new CliException(reason);

            PageSet set;
            string subject;
            if (path is null)
            {
                long n = parse.GetValue(count) ?? PagePattern.DefaultCount(kind);
                ulong randomSpan = parse.GetValue(span) ?? PagePattern.DefaultRandomSpanBytes;
                int s = parse.GetValue(seed) ?? CommonOptions.DefaultSeed;
                if (PagePattern.Validate(kind, n, randomSpan) is { } error) throw new CliException(error);
                set = PagePattern.Build(kind, n, randomSpan, s);
                subject = $"pattern {PagePattern.Name(kind)}: {PagePattern.Describe(kind, n, randomSpan, s)}";
            }
            else
            {
                set = ReadPageFile(path);
                if (set.Count == 0) throw new CliException($"page file {TextFormat.Quote(path, 200)} has no pages", ExitCodes.BadInput);
                subject = $"page file {path}: {set.Count:N0} distinct pages";
            }

            using Machine machine = CommonOptions.Boot(CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false), environment);
            KernelCheckResult result;
            try
            {
                result = KernelComparison.Run(machine, set);
            }
            catch (KernelCheckException exception)
            {
                throw new CliException("kernel-check: " + exception.Message, ExitCodes.BadInput);
            }
            catch (FastPtException exception)
            {
                throw new CliException($"kernel-check: FastPt could not map the page set: {exception.Message} (a larger --memory holds more tables)", ExitCodes.BadInput);
            }
            if (parse.GetValue(json)) WriteJson(environment.Output, subject, result);
            else Render(environment.CreateConsole(), subject, result);
            return result.Passed ? ExitCodes.Success : ExitCodes.ChecksFailed;
        });
        return command;
    }

    /// <summary>A folio count of <paramref name="size"/>: 0 up to 64 TiB of folios.</summary>
    private static Option<long?> FolioCount(string name, PageSize size, string description)
    {
        // At most 64 TiB of folios.
        long limit = (long)((64UL << 40) / size.Bytes());
        return new Option<long?>(name) { Description = description, HelpName = "N", CustomParser = CommonOptions.WholeNumber(name, 0, limit) };
    }

    private static PageSet ReadPageFile(string path)
    {
        try
        {
            return PageFileReader.Read(path, PageFileLimit,
                page => $"kernel-check maps page files into at most {SizeParser.Format(PagePattern.MaximumSpanBytes)} (pages below 0x{PageFileLimit:x})");
        }
        catch (PageFileException exception)
        {
            throw new CliException(exception.Message, ExitCodes.BadInput);
        }
    }

    /// <summary>The side-by-side table: pages and KiB per level for the kernel and FastPt, and the difference.</summary>
    public static ReportTable SideBySide(KernelCheckResult result)
    {
        TableLevels k = result.KernelTables;
        TableLevels f = result.FastPt;
        var rows = new[]
        {
            Row("PUD", k.Pud, f.Pud),
            Row("PMD", k.Pmd, f.Pmd),
            Row("PTE", k.Pte, f.Pte),
            Row("total", k.Pte + k.Pmd + k.Pud, f.Pte + f.Pmd + f.Pud),
        };
        return new ReportTable("Page-table pages for the page set",
            ["level", "kernel pages", "kernel KiB", "FastPt pages", "FastPt KiB", "difference"], rows);

        static ReportValue[] Row(string level, long kernel, long fastPt) =>
        [
            ReportValue.FromText(level), ReportValue.FromWholeNumber(kernel), ReportValue.FromWholeNumber(kernel * 4),
            ReportValue.FromWholeNumber(fastPt), ReportValue.FromWholeNumber(fastPt * 4), ReportValue.FromWholeNumber(fastPt - kernel),
        ];
    }

    /// <summary>Where and how the kernel side was measured, one line.</summary>
    public static string DescribeHost(KernelCheckResult result)
    {
        HostMeasurement kernel = result.Kernel;
        string readings = kernel.Agreed
            ? $"{kernel.Attempts.Count} attempts, the last agreeing with an earlier one"
            : $"{kernel.Attempts.Count} attempts, no two agreeing";
        return string.Create(CultureInfo.InvariantCulture,
            $"region 0x{result.RegionStart:x16} (512 GiB aligned, {SizeParser.Format(kernel.ReservedBytes)} reserved), transparent huge pages {kernel.HugePagesNote}; {readings}");
    }

    private static void Render(IAnsiConsole console, string subject, KernelCheckResult result)
    {
        console.MarkupLine($"[bold]fastpt kernel-check[/]: {Markup.Escape(subject)}");
        console.MarkupLine($"[grey]kernel:[/] Linux {Markup.Escape(KernelRelease())}, {Markup.Escape(DescribeHost(result))}");
        string mode = result.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level";
        string p4d = result.PagingMode == PagingMode.FiveLevel ? string.Create(CultureInfo.InvariantCulture, $" ({result.FastPtP4d:N0} P4D tables, not in VmPTE)") : "";
        console.MarkupLine($"[grey]FastPt:[/] {mode} paging, the same addresses in an empty address space{Markup.Escape(p4d)}");
        Rendering.ReportRenderer.ToTable(SideBySide(result)).Write(console);
        console.MarkupLine(CultureInfo.InvariantCulture, "[grey]VmPTE growth:[/] kernel {0:N0} kB, FastPt {1:N0} kB",
            result.Kernel.Result.VmPteDeltaKiB, result.FastPt.KiB);
        if (!result.Kernel.Agreed)
        {
            foreach (HostAttempt attempt in result.Kernel.Attempts)
            {
                console.MarkupLine(CultureInfo.InvariantCulture,
                    "  [grey]attempt:[/] PTE {0:N0}, PMD {1:N0}, PUD {2:N0}, VmPTE +{3:N0} kB, {4:N0} disturbed 2 MiB blocks, {5:+#;-#;0} kB between blocks",
                    attempt.Tables.Pte, attempt.Tables.Pmd, attempt.Tables.Pud, attempt.VmPteDeltaKiB, attempt.DisturbedBlocks, attempt.OutsideKiB);
            }
        }
        console.MarkupLine(result.Passed ? $"[green]{Markup.Escape(result.Verdict)}[/]" : $"[red]{Markup.Escape(result.Verdict)}[/]");
    }

    private static void WriteJson(TextWriter output, string subject, KernelCheckResult result) =>
        JsonOutput.WriteDocument(output, json =>
        {
            json.WriteString("subject", subject);
            json.WriteNumber("pages", result.Pages.Count);
            json.WriteBoolean("passed", result.Passed);
            json.WriteString("verdict", result.Verdict);
            json.WriteObject("kernel", w =>
            {
                w.WriteString("release", KernelRelease());
                w.WriteNumber("regionStart", result.RegionStart);
                w.WriteNumber("reservedBytes", result.Kernel.ReservedBytes);
                w.WriteString("transparentHugePages", result.Kernel.HugePagesNote);
                w.WriteBoolean("readingsAgreed", result.Kernel.Agreed);
                WriteLevels(w, result.KernelTables);
                w.WriteNumber("vmPteGrowthKiB", result.Kernel.Result.VmPteDeltaKiB);
                w.WriteObjects("attempts", result.Kernel.Attempts, static (a, attempt) =>
                {
                    WriteLevels(a, attempt.Tables);
                    a.WriteNumber("vmPteGrowthKiB", attempt.VmPteDeltaKiB);
                    a.WriteNumber("disturbedBlocks", attempt.DisturbedBlocks);
                    a.WriteNumber("betweenBlocksKiB", attempt.OutsideKiB);
                });
                w.WriteNumber("elapsedMilliseconds", result.KernelTime.TotalMilliseconds);
            });
            json.WriteObject("fastpt", w =>
            {
                w.WriteNumber("pagingLevels", (int)result.PagingMode);
                WriteLevels(w, result.FastPt);
                w.WriteNumber("p4d", result.FastPtP4d);
                w.WriteNumber("vmPteKiB", result.FastPt.KiB);
                w.WriteNumber("elapsedMilliseconds", result.FastPtTime.TotalMilliseconds);
            });
            json.WriteObject("difference", w =>
            {
                WriteLevels(w, new TableLevels(result.FastPt.Pte - result.KernelTables.Pte, result.FastPt.Pmd - result.KernelTables.Pmd, result.FastPt.Pud - result.KernelTables.Pud));
                w.WriteNumber("vmPteKiB", result.FastPt.KiB - result.Kernel.Result.VmPteDeltaKiB);
            });
        });

    private static void WriteLevels(Utf8JsonWriter json, TableLevels levels)
    {
        json.WriteNumber("pte", levels.Pte);
        json.WriteNumber("pmd", levels.Pmd);
        json.WriteNumber("pud", levels.Pud);
    }

    /// <summary>The kernel release (uname -r).</summary>
    public static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return Environment.OSVersion.VersionString;
        }
    }
}
