using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using FastPt.Cli.KernelCheck;

namespace FastPt.Tests.Cli;

/// <summary>A directory of fake /proc and /sys files that behaves like a kernel with HVO: writing nr_hugepages
/// grows or shrinks a pool, and a folio allocated while hugetlb_optimize_vmemmap is 1 frees
/// <see cref="FreedPer2M"/> (or <see cref="FreedPer1G"/>) memmap pages, from nr_memmap_boot_pages while boot
/// memmap lasts, and re-allocates them into nr_memmap_pages when it is freed, as mm/hugetlb_vmemmap.c counts.
/// Hooks fail or disturb it at chosen points.</summary>
internal sealed class FakeHugeTlbKernel : IHostFiles, IDisposable
{
    private readonly TemporaryDirectory _directory;
    private readonly Dictionary<PageSize, Stack<bool>> _pools = new() { [PageSize.Size2M] = new(), [PageSize.Size1G] = new() };

    private readonly RootedHostFiles _files;

    private FakeHugeTlbKernel(TemporaryDirectory directory)
    {
        _directory = directory;
        _files = new RootedHostFiles(directory.Path);
    }

    public string FullPath(string path) => _files.FullPath(path);

    public bool Exists(string path) => _files.Exists(path);

    /// <summary>A fake kernel with both pool sizes, the switch off and boot memmap of a 24 GiB machine.</summary>
    public static FakeHugeTlbKernel Create(bool with1G = true, bool withSwitch = true, bool withCounters = true)
    {
        var fake = new FakeHugeTlbKernel(new TemporaryDirectory());
        fake.Put("proc/sys/vm/.keep", "");
        if (withSwitch) fake.Put(HugeTlbHostFiles.OptimizeVmemmap, "0\n");
        fake.MemmapPages = 0;
        fake.MemmapBootPages = 98304;
        fake.WithCounters = withCounters;
        fake.WriteVmstat();
        fake.Put(HugeTlbHostFiles.Meminfo, "MemTotal:       24576000 kB\nMemFree:        22000000 kB\nMemAvailable:   22000000 kB\n");
        fake.Put(HugeTlbHostFiles.NrHugepages(PageSize.Size2M), "0\n");
        if (with1G) fake.Put(HugeTlbHostFiles.NrHugepages(PageSize.Size1G), "0\n");
        return fake;
    }

    public static HostIdentity Root => new(true, "Linux (fake)", Architecture.X64, 4096, true);

    public long MemmapPages { get; set; }

    public long MemmapBootPages { get; set; }

    public bool WithCounters { get; private set; }

    /// <summary>Memmap pages one 2 MiB folio frees (the kernel's 7).</summary>
    public long FreedPer2M { get; set; } = 7;

    /// <summary>Memmap pages one 1 GiB folio frees (the kernel's 4095).</summary>
    public long FreedPer1G { get; set; } = 4095;

    /// <summary>Most 1 GiB folios the fake finds memory for.</summary>
    public long Max1G { get; set; } = long.MaxValue;

    /// <summary>Runs before every write with the path and text; may throw, cancel or change the fake.</summary>
    public Action<string, string>? BeforeWrite { get; set; }

    /// <summary>Runs before every read of /proc/vmstat (to move the counters as another process would).</summary>
    public Action? BeforeVmstatRead { get; set; }

    /// <summary>Every write made, in order.</summary>
    public List<(string Path, string Text)> Writes { get; } = [];

    public string ReadTrimmed(string path) => File.ReadAllText(FullPath(path)).Trim();

    public void Put(string path, string text)
    {
        string full = FullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    public void Delete(string path) => File.Delete(FullPath(path));

    public string ReadAllText(string path)
    {
        if (path == HugeTlbHostFiles.Vmstat)
        {
            BeforeVmstatRead?.Invoke();
            WriteVmstat();
        }
        return _files.ReadAllText(path);
    }

    public void WriteAllText(string path, string text)
    {
        BeforeWrite?.Invoke(path, text);
        Writes.Add((path, text));
        if (!long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value)) throw new IOException("Invalid argument");
        if (path == HugeTlbHostFiles.OptimizeVmemmap)
        {
            if (value > 1) throw new IOException("Invalid argument");
            Put(path, value + "\n");
            return;
        }
        foreach (PageSize size in new[] { PageSize.Size2M, PageSize.Size1G })
        {
            if (path != HugeTlbHostFiles.NrHugepages(size)) continue;
            Stack<bool> pool = _pools[size];
            bool optimize = ReadTrimmed(HugeTlbHostFiles.OptimizeVmemmap) == "1";
            long freed = size == PageSize.Size2M ? FreedPer2M : FreedPer1G;
            long target = size == PageSize.Size1G ? Math.Min(value, Max1G) : value;
            while (pool.Count < target)
            {
                pool.Push(optimize);
                if (!optimize) continue;
                // The folio's vmemmap is runtime memmap when an earlier restore allocated it, boot memmap otherwise.
                long fromRuntime = Math.Min(freed, MemmapPages);
                MemmapPages -= fromRuntime;
                MemmapBootPages -= freed - fromRuntime;
            }
            while (pool.Count > value)
            {
                if (pool.Pop()) MemmapPages += freed;
            }
            Put(path, pool.Count + "\n");
            WriteVmstat();
            return;
        }
        throw new IOException($"the fake kernel has no writable {path}");
    }

    private void WriteVmstat()
    {
        string counters = WithCounters
            ? $"nr_memmap_pages {MemmapPages}\nnr_memmap_boot_pages {MemmapBootPages}\n"
            : "";
        Put(HugeTlbHostFiles.Vmstat, "nr_free_pages 5500000\nnr_zone_inactive_anon 100\n" + counters + "nr_dirty 3\n");
    }

    public void Dispose() => _directory.Dispose();
}
