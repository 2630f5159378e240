using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace FastPt.Cli.KernelCheck;

/// <summary>The files of /proc and /sys that <c>kernel-check --hugetlb</c> reads and writes, by their path below a
/// root: "/" on the host, a directory of fake files in tests.</summary>
internal interface IHostFiles
{
    /// <summary>The path as the user would type it (for messages).</summary>
    string FullPath(string path);

    /// <summary>True when the file exists.</summary>
    bool Exists(string path);

    /// <summary>The whole text of the file.</summary>
    string ReadAllText(string path);

    /// <summary>Writes <paramref name="text"/> into the existing file, as <c>echo text &gt; file</c> does to a
    /// sysctl: the kernel reacts to the write (and may reject it with an error).</summary>
    void WriteAllText(string path, string text);
}

/// <summary>The files below <see cref="Root"/>; "/" for the running kernel.</summary>
internal sealed class RootedHostFiles : IHostFiles
{
    public RootedHostFiles(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = root;
    }

    /// <summary>The running kernel's /proc and /sys.</summary>
    public static RootedHostFiles Host { get; } = new("/");

    /// <summary>The directory paths are relative to.</summary>
    public string Root { get; }

    public string FullPath(string path) => Path.Join(Root, path);

    public bool Exists(string path) => File.Exists(FullPath(path));

    public string ReadAllText(string path) => File.ReadAllText(FullPath(path));

    /// <summary>One write at offset 0 of the file opened for writing, without truncation (procfs and sysfs take a
    /// sysctl value in one write; the kernel's error comes back as an <see cref="IOException"/>).</summary>
    public void WriteAllText(string path, string text)
    {
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(FullPath(path), FileMode.Open, FileAccess.Write);
        RandomAccess.Write(handle, Encoding.ASCII.GetBytes(text), 0);
    }
}

/// <summary>What the process runs on and as: the checks before <c>kernel-check --hugetlb</c> touches anything.</summary>
/// <param name="IsLinux">A Linux kernel.</param>
/// <param name="OsDescription">The operating system, for the refusal on other hosts.</param>
/// <param name="Architecture">The process architecture (FastPt models x86-64).</param>
/// <param name="PageSize">The base page size in bytes.</param>
/// <param name="IsPrivileged">Root (or an equivalent capability set): needed to write the sysctls.</param>
internal sealed record HostIdentity(bool IsLinux, string OsDescription, Architecture Architecture, int PageSize, bool IsPrivileged)
{
    /// <summary>This process.</summary>
    public static HostIdentity Current => new(OperatingSystem.IsLinux(), RuntimeInformation.OSDescription,
        RuntimeInformation.ProcessArchitecture, Environment.SystemPageSize, Environment.IsPrivilegedProcess);
}
