using System;
using System.IO;
using System.Runtime.InteropServices;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Commands;

/// <summary>An output file (<c>map --svg</c>, <c>trace record --out</c>) written whole or not at all: the content goes
/// to a temporary file, which takes the target's place only at <see cref="Commit"/>; without a commit (a failure on
/// the way) the target stays as it was and no temporary is left behind. A symbolic link is followed (the file it
/// names is replaced, the link stays). A target that exists but is not a regular file — <c>/dev/null</c>, a FIFO,
/// <c>/dev/stdout</c> — is written into at the commit, never replaced: renaming over it would put a regular file in
/// place of the device (as root, for every program on the machine).</summary>
internal sealed partial class OutputFile : IDisposable
{
    private readonly string _option;
    private readonly int _exitCode;
    private readonly string _shown;
    private readonly bool _intoSpecialFile;
    private bool _committed;

    /// <summary>Creates the temporary file for <paramref name="path"/>, so that an unwritable directory fails before
    /// any work; errors are <see cref="CliException"/>s that start with <paramref name="option"/> and end the program
    /// with <paramref name="exitCode"/>.</summary>
    public OutputFile(string path, string option, int exitCode)
    {
        ArgumentNullException.ThrowIfNull(path);
        _option = option;
        _exitCode = exitCode;
        _shown = TextFormat.Quote(path, 200);
        string target = Path.GetFullPath(path);
        try
        {
            if (File.ResolveLinkTarget(target, returnFinalTarget: true) is { } linked) target = linked.FullName;
        }
        catch (IOException)
        {
            // A link to nothing, or a loop: written as the link's own path, which replaces the link.
        }
        Target = target;
        _intoSpecialFile = IsSpecialFile(target);
        // Beside the target, so that the rename is atomic; a device's directory (/dev) is no place for it.
        string directory = _intoSpecialFile ? Path.GetTempPath() : Path.GetDirectoryName(target)!;
        TemporaryPath = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid().ToString("N")[..8]}.partial");
        try
        {
            new FileStream(TemporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None).Dispose();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{_option} {_shown} cannot be written: {exception.Message}", _exitCode);
        }
    }

    /// <summary>The file that receives the content (the final target of a link).</summary>
    public string Target { get; }

    /// <summary>True when the target is not a regular file (a device, a FIFO): it receives the content but keeps
    /// none of it to read back.</summary>
    public bool IntoSpecialFile => _intoSpecialFile;

    /// <summary>Where the content is written until the commit.</summary>
    public string TemporaryPath { get; }

    /// <summary>The temporary file, opened for writing from its start.</summary>
    public FileStream OpenWrite() => new(TemporaryPath, FileMode.Create, FileAccess.Write, FileShare.Read);

    /// <summary>Puts the content in place: renames the temporary over the target, or copies it into a target that is
    /// not a regular file.</summary>
    public void Commit()
    {
        try
        {
            if (_intoSpecialFile)
            {
                using (FileStream source = File.OpenRead(TemporaryPath))
                using (var target = new FileStream(Target, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
                {
                    source.CopyTo(target);
                }
                File.Delete(TemporaryPath);
            }
            else
            {
                File.Move(TemporaryPath, Target, overwrite: true);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{_option} {_shown} cannot be written: {exception.Message}", _exitCode);
        }
        _committed = true;
    }

    /// <summary>Removes the temporary file unless it was committed.</summary>
    public void Dispose()
    {
        if (_committed) return;
        try
        {
            File.Delete(TemporaryPath);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // A leftover hidden .partial file is harmless; the error that led here matters more.
        }
    }

    // struct statx (linux/stat.h) has the same layout on every architecture: stx_mode is the u16 at byte 28.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int FileTypeMask = 0xF000;
    private const int RegularFile = 0x8000;
    private const int DirectoryType = 0x4000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);

    /// <summary>True when <paramref name="path"/> exists and is neither a regular file nor a directory (a device, a
    /// FIFO, a socket). Only Linux is asked; elsewhere every target is renamed over.</summary>
    private static bool IsSpecialFile(string path)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(path)) return false;
        var buffer = new byte[StatxSize];
        try
        {
            if (Statx(AtCurrentDirectory, path, 0, StatxType, buffer) != 0) return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;   // a C library older than statx (glibc 2.28)
        }
        int type = BitConverter.ToUInt16(buffer, StatxModeOffset) & FileTypeMask;
        return type != RegularFile && type != DirectoryType;
    }
}
