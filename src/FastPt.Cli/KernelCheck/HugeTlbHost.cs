using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.KernelCheck;

/// <summary>The folios <c>kernel-check --hugetlb</c> puts in the pools, per page size.</summary>
/// <param name="Pages2M">2 MiB folios.</param>
/// <param name="Pages1G">1 GiB folios.</param>
internal sealed record HugeTlbRequest(long Pages2M, long Pages1G)
{
    /// <summary>The sizes asked for (count above 0), 2 MiB first.</summary>
    public IReadOnlyList<(PageSize Size, long Folios)> Sizes =>
        new[] { (PageSize.Size2M, Pages2M), (PageSize.Size1G, Pages1G) }.Where(s => s.Item2 > 0).ToArray();

    /// <summary>Bytes of memory the folios take.</summary>
    public ulong Bytes => (ulong)Pages2M * PageSize.Size2M.Bytes() + (ulong)Pages1G * PageSize.Size1G.Bytes();
}

/// <summary><c>nr_memmap_pages</c> and <c>nr_memmap_boot_pages</c> of /proc/vmstat: the memmap pages the kernel
/// holds, allocated at runtime and at boot. HVO frees from the one the page came from and restores into
/// <c>nr_memmap_pages</c>, so only the sum says how many pages a step freed or re-allocated.</summary>
/// <param name="MemmapPages">nr_memmap_pages.</param>
/// <param name="MemmapBootPages">nr_memmap_boot_pages.</param>
internal readonly record struct MemmapCounters(long MemmapPages, long MemmapBootPages)
{
    /// <summary>Memmap pages held, both kinds.</summary>
    public long Total => MemmapPages + MemmapBootPages;
}

/// <summary>One grow and shrink of a pool on the host kernel.</summary>
/// <param name="Got">Folios the kernel really added (it may find fewer free blocks than asked, 1 GiB ones
/// especially).</param>
/// <param name="BeforeGrow">The counters before the grow.</param>
/// <param name="AfterGrow">After it.</param>
/// <param name="AfterShrink">After shrinking back.</param>
/// <param name="LeftAfterShrink">Folios above the saved pool size after the shrink (0 unless another process took
/// some of them meanwhile).</param>
internal sealed record HostHugeTlbRound(long Got, MemmapCounters BeforeGrow, MemmapCounters AfterGrow, MemmapCounters AfterShrink, long LeftAfterShrink)
{
    /// <summary>Memmap pages the grow freed.</summary>
    public long FreedOnGrow => BeforeGrow.Total - AfterGrow.Total;

    /// <summary>Memmap pages the shrink allocated again.</summary>
    public long ReallocatedOnShrink => AfterShrink.Total - AfterGrow.Total;

    /// <summary>True when <paramref name="other"/> saw the same figures.</summary>
    public bool SameAs(HostHugeTlbRound other) =>
        Got == other.Got && FreedOnGrow == other.FreedOnGrow && ReallocatedOnShrink == other.ReallocatedOnShrink && LeftAfterShrink == other.LeftAfterShrink;
}

/// <summary>The host kernel's figures for one page size.</summary>
/// <param name="Size">2 MiB or 1 GiB.</param>
/// <param name="Requested">Folios asked for.</param>
/// <param name="PoolBefore">nr_hugepages of the size before the run (the grow adds to it, the shrink returns to
/// it).</param>
/// <param name="Rounds">Every round made.</param>
/// <param name="Agreed">True when the last two rounds saw the same figures.</param>
internal sealed record HostHugeTlbSize(PageSize Size, long Requested, long PoolBefore, IReadOnlyList<HostHugeTlbRound> Rounds, bool Agreed)
{
    /// <summary>The round that counts: the last.</summary>
    public HostHugeTlbRound Result => Rounds[^1];

    /// <summary>Folios the kernel got in that round.</summary>
    public long Got => Result.Got;
}

/// <summary>A setting as it was before the run and as it reads after restoring it.</summary>
/// <param name="Name">What it is, for the user: "hugetlb_optimize_vmemmap", "nr_hugepages (2 MiB)".</param>
/// <param name="Path">Its file, as the user would type it.</param>
/// <param name="Saved">The value before the run.</param>
/// <param name="Now">The value read back after restoring.</param>
/// <param name="Written">True when it had changed and was written back.</param>
/// <param name="Size">The pool's page size; null for the switch.</param>
internal sealed record RestoredSetting(string Name, string Path, string Saved, string Now, bool Written, PageSize? Size = null)
{
    /// <summary>True when it reads as before.</summary>
    public bool Intact => Saved == Now;
}

/// <summary>What the host kernel did: the switch before the run, the figures per size, the settings restored.</summary>
internal sealed record HostHugeTlbMeasurement(string OptimizeBefore, IReadOnlyList<HostHugeTlbSize> Sizes, IReadOnlyList<RestoredSetting> Restored, TimeSpan Elapsed);

/// <summary>The files, the parsing and the checks of <c>kernel-check --hugetlb</c> on the host.</summary>
internal static class HugeTlbHostFiles
{
    public const string OptimizeVmemmap = "proc/sys/vm/hugetlb_optimize_vmemmap";
    public const string Vmstat = "proc/vmstat";
    public const string Meminfo = "proc/meminfo";

    /// <summary>The sysfs directory of a pool: hugepages-2048kB or hugepages-1048576kB.</summary>
    public static string PoolDirectory(PageSize size) =>
        "sys/kernel/mm/hugepages/hugepages-" + (size.Bytes() / 1024).ToString(CultureInfo.InvariantCulture) + "kB";

    /// <summary>The pool's persistent size.</summary>
    public static string NrHugepages(PageSize size) => PoolDirectory(size) + "/nr_hugepages";

    /// <summary>"2 MiB" or "1 GiB".</summary>
    public static string SizeName(PageSize size) => size == PageSize.Size2M ? "2 MiB" : "1 GiB";

    /// <summary>Null when the host can run the check for <paramref name="request"/>; otherwise one line saying why
    /// not. Reads only.</summary>
    public static string? Unsupported(IHostFiles files, HostIdentity host, HugeTlbRequest request)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(request);
        const string What = "kernel-check --hugetlb";
        if (!host.IsLinux) return $"{What} needs a Linux kernel (it reads {files.FullPath(Vmstat)}); this host runs {host.OsDescription}";
        if (host.Architecture != Architecture.X64)
            return $"{What} compares with x86-64, which FastPt models; this process runs on {host.Architecture}";
        if (host.PageSize != 4096) return $"{What} needs 4 KiB base pages; this kernel uses {host.PageSize / 1024} KiB pages";
        if (!host.IsPrivileged)
        {
            return $"{What} needs root: it writes {files.FullPath(OptimizeVmemmap)} and nr_hugepages for the run (and restores them); "
                + "run it as root on a test machine";
        }
        if (!files.Exists(OptimizeVmemmap))
        {
            return $"this kernel has no HugeTLB vmemmap optimization: {files.FullPath(OptimizeVmemmap)} does not exist "
                + "(CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP, and struct page a power of two in size)";
        }
        string vmstat;
        try
        {
            vmstat = files.ReadAllText(Vmstat);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return $"cannot read {files.FullPath(Vmstat)}: {exception.Message}";
        }
        if (ParseMemmap(vmstat, out string missing) is null)
            return $"{files.FullPath(Vmstat)} has no {missing}, so the memmap pages HVO frees cannot be read";
        foreach ((PageSize size, long _) in request.Sizes)
        {
            if (!files.Exists(NrHugepages(size)))
            {
                string hint = size == PageSize.Size1G ? " (x86-64 needs the CPU's pdpe1gb flag for them)" : "";
                return $"this kernel has no {SizeName(size)} HugeTLB pages: {files.FullPath(NrHugepages(size))} does not exist{hint}";
            }
        }
        if (ReadMemAvailable(files) is { } available && request.Bytes > available / 2)
        {
            return $"the folios asked for take {Parsing.SizeParser.Format(request.Bytes)}, more than half of this host's available memory "
                + $"({Parsing.SizeParser.Format(available)}, MemAvailable): the kernel would take it from everything else running";
        }
        return null;
    }

    /// <summary>The two memmap counters of a /proc/vmstat text; null with the first missing name otherwise.</summary>
    public static MemmapCounters? ParseMemmap(string vmstat, out string missing)
    {
        ArgumentNullException.ThrowIfNull(vmstat);
        long? pages = null, boot = null;
        foreach (string line in vmstat.Split('\n'))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 2 || !long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)) continue;
            if (fields[0] == "nr_memmap_pages") pages = value;
            else if (fields[0] == "nr_memmap_boot_pages") boot = value;
        }
        missing = pages is null ? "nr_memmap_pages" : boot is null ? "nr_memmap_boot_pages" : "";
        return pages is { } p && boot is { } b ? new MemmapCounters(p, b) : null;
    }

    /// <summary>The counters now; throws <see cref="KernelCheckException"/> when they cannot be read.</summary>
    public static MemmapCounters ReadMemmap(IHostFiles files)
    {
        string text = Read(files, Vmstat);
        return ParseMemmap(text, out string missing)
            ?? throw new KernelCheckException($"{files.FullPath(Vmstat)} stopped showing {missing}");
    }

    /// <summary>A file that holds one whole number (a sysctl, nr_hugepages).</summary>
    public static long ReadCount(IHostFiles files, string path)
    {
        string text = Read(files, path).Trim();
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            throw new KernelCheckException($"{files.FullPath(path)} reads {TextFormat.Quote(text)}, not a whole number");
        return value;
    }

    /// <summary>The whole text of a file; throws <see cref="KernelCheckException"/> when it cannot be read.</summary>
    public static string Read(IHostFiles files, string path)
    {
        try
        {
            return files.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new KernelCheckException($"cannot read {files.FullPath(path)}: {exception.Message}", exception);
        }
    }

    /// <summary>MemAvailable of /proc/meminfo in bytes; null when it cannot be read.</summary>
    private static ulong? ReadMemAvailable(IHostFiles files)
    {
        string text;
        try
        {
            text = files.ReadAllText(Meminfo);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        foreach (string line in text.Split('\n'))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0] == "MemAvailable:" && ulong.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
                return kib * 1024;
        }
        return null;
    }
}

/// <summary>The settings the run changes, saved before the first write and written back by
/// <see cref="Restore"/>.</summary>
internal sealed class HugeTlbHostSettings
{
    private readonly IHostFiles _files;
    private readonly List<(string Name, string Path, string Saved, PageSize? Size)> _saved = [];

    private HugeTlbHostSettings(IHostFiles files) => _files = files;

    /// <summary>Reads the switch and the pool size of every size in <paramref name="sizes"/>; writes nothing.</summary>
    public static HugeTlbHostSettings Save(IHostFiles files, IEnumerable<PageSize> sizes)
    {
        var settings = new HugeTlbHostSettings(files);
        string optimize = HugeTlbHostFiles.ReadCount(files, HugeTlbHostFiles.OptimizeVmemmap).ToString(CultureInfo.InvariantCulture);
        settings._saved.Add(("hugetlb_optimize_vmemmap", HugeTlbHostFiles.OptimizeVmemmap, optimize, null));
        foreach (PageSize size in sizes)
        {
            string path = HugeTlbHostFiles.NrHugepages(size);
            settings._saved.Add(($"nr_hugepages ({HugeTlbHostFiles.SizeName(size)})", path,
                HugeTlbHostFiles.ReadCount(files, path).ToString(CultureInfo.InvariantCulture), size));
        }
        return settings;
    }

    /// <summary>The saved value of the setting at <paramref name="path"/>.</summary>
    public string Saved(string path) => _saved.First(s => s.Path == path).Saved;

    /// <summary>Writes a value; throws <see cref="KernelCheckException"/> when the kernel refuses it.</summary>
    public void Write(string path, long value)
    {
        if (!_saved.Any(s => s.Path == path)) throw new InvalidOperationException($"{path} was not saved before writing it");
        WriteRaw(path, value.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Writes every saved setting back where it changed, the pools first and the switch last (the reverse of
    /// the order they were changed in), and reads each back. Tries every setting even when one fails, then throws
    /// <see cref="KernelCheckException"/> naming the ones that failed with the command that restores them by hand.
    /// Calling it again is harmless.</summary>
    public IReadOnlyList<RestoredSetting> Restore()
    {
        var restored = new List<RestoredSetting>();
        var failures = new List<string>();
        for (int i = _saved.Count - 1; i >= 0; i--)
        {
            (string name, string path, string saved, PageSize? size) = _saved[i];
            try
            {
                bool written = false;
                if (TryReadTrimmed(path) != saved)
                {
                    WriteRaw(path, saved);
                    written = true;
                }
                restored.Add(new RestoredSetting(name, _files.FullPath(path), saved, TryReadTrimmed(path) ?? "(unreadable)", written, size));
            }
            catch (KernelCheckException exception)
            {
                failures.Add($"{name}: {exception.Message}; restore it by hand: echo {saved} > {_files.FullPath(path)}");
            }
        }
        restored.Reverse();
        if (failures.Count > 0) throw new KernelCheckException("could not restore " + string.Join("; ", failures));
        return restored;
    }

    private string? TryReadTrimmed(string path)
    {
        try
        {
            return _files.ReadAllText(path).Trim();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void WriteRaw(string path, string value)
    {
        try
        {
            _files.WriteAllText(path, value + "\n");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new KernelCheckException($"writing {value} to {_files.FullPath(path)} failed: {exception.Message}", exception);
        }
    }
}

/// <summary>Measures what the host kernel's HVO frees and re-allocates: switch on, then per size grow the pool by the
/// folios asked for and shrink it back, reading the memmap counters before, between and after; every setting is
/// restored at the end, on an error and on cancellation alike.</summary>
internal static class HugeTlbHost
{
    /// <summary>Rounds per size before giving up on two agreeing ones.</summary>
    public const int MaxRounds = 5;

    /// <summary>Runs the measurement. The counters are system-wide, so anything else that changes memmap meanwhile
    /// (memory hot-plug, another process resizing a pool or taking surplus folios) moves them: each size is measured
    /// in rounds until two rounds in a row saw the same figures, at most <see cref="MaxRounds"/>. Throws
    /// <see cref="KernelCheckException"/> when the host refuses (settings restored), and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> stops it (settings restored).</summary>
    public static HostHugeTlbMeasurement Measure(IHostFiles files, HugeTlbRequest request, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(request);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        HugeTlbHostSettings settings = HugeTlbHostSettings.Save(files, request.Sizes.Select(s => s.Size));
        string optimizeBefore = settings.Saved(HugeTlbHostFiles.OptimizeVmemmap);
        var sizes = new List<HostHugeTlbSize>();
        try
        {
            cancellation.ThrowIfCancellationRequested();
            if (optimizeBefore != "1") settings.Write(HugeTlbHostFiles.OptimizeVmemmap, 1);
            foreach ((PageSize size, long folios) in request.Sizes) sizes.Add(MeasureSize(files, settings, size, folios, cancellation));
        }
        catch (Exception failure)
        {
            // Whatever stopped the run (the kernel refusing a write, a read failing, a signal), the settings go back
            // before the failure is reported; a failed restore is reported with it.
            try
            {
                settings.Restore();
            }
            catch (KernelCheckException restoreFailure)
            {
                throw new KernelCheckException($"{failure.Message}; and then {restoreFailure.Message}", failure);
            }
            throw;
        }
        IReadOnlyList<RestoredSetting> restored = settings.Restore();
        return new HostHugeTlbMeasurement(optimizeBefore, sizes, restored, System.Diagnostics.Stopwatch.GetElapsedTime(start));
    }

    private static HostHugeTlbSize MeasureSize(IHostFiles files, HugeTlbHostSettings settings, PageSize size, long folios, CancellationToken cancellation)
    {
        string path = HugeTlbHostFiles.NrHugepages(size);
        long before = long.Parse(settings.Saved(path), CultureInfo.InvariantCulture);
        var rounds = new List<HostHugeTlbRound>();
        for (int round = 1; round <= MaxRounds; round++)
        {
            cancellation.ThrowIfCancellationRequested();
            MemmapCounters start = HugeTlbHostFiles.ReadMemmap(files);
            settings.Write(path, before + folios);
            long got = HugeTlbHostFiles.ReadCount(files, path) - before;
            MemmapCounters grown = HugeTlbHostFiles.ReadMemmap(files);
            settings.Write(path, before);
            long left = HugeTlbHostFiles.ReadCount(files, path) - before;
            MemmapCounters shrunk = HugeTlbHostFiles.ReadMemmap(files);
            rounds.Add(new HostHugeTlbRound(Math.Max(0, got), start, grown, shrunk, left));
            if (rounds.Count >= 2 && rounds[^1].SameAs(rounds[^2])) return new HostHugeTlbSize(size, folios, before, rounds, true);
        }
        return new HostHugeTlbSize(size, folios, before, rounds, false);
    }
}
