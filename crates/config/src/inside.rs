//! Paths a manifest names that must stay inside a directory: a Spin component's file sources
//! (inside the manifest's directory) and destinations (inside the component's `/`).

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Why a path does not stay inside its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEscape {
    /// It starts at the root (or a drive), not at the directory.
    Absolute,
    /// Its `..` components climb above the directory.
    ClimbsOut,
}

impl fmt::Display for PathEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Absolute => "is absolute",
            Self::ClimbsOut => "climbs out with `..`",
        })
    }
}

/// `path` relative to a directory, with `.` and `..` resolved lexically: what is returned has
/// only normal components, so joined to the directory it names something below it. Symbolic
/// links on disk can still point elsewhere; whoever reads through them checks that.
pub fn path_inside(path: &Path) -> Result<PathBuf, PathEscape> {
    let mut inside = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => inside.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !inside.pop() {
                    return Err(PathEscape::ClimbsOut);
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(PathEscape::Absolute),
        }
    }
    Ok(inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Result<&str, PathEscape>) {
        assert_eq!(path_inside(Path::new(path)), expected.map(PathBuf::from), "{path}");
    }

    #[test]
    fn paths_stay_inside_or_say_how_they_leave() {
        check("index.html", Ok("index.html"));
        check("static/./a/../b.css", Ok("static/b.css"));
        check("static/..", Ok(""));
        check("", Ok(""));
        check("..", Err(PathEscape::ClimbsOut));
        check("../x.txt", Err(PathEscape::ClimbsOut));
        check("static/../../x.txt", Err(PathEscape::ClimbsOut));
        check("a/../../a/x.txt", Err(PathEscape::ClimbsOut));
        check("/etc/passwd", Err(PathEscape::Absolute));
        check("/", Err(PathEscape::Absolute));
    }
}
