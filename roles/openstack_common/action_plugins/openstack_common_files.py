"""Write every file of one service on one host in one task (config.yml's "Write the files").

The service contract used to write a host's files with five looped tasks: the INI files, the
role's templates, the line edits of packaged files, the uwsgi bindings and the uwsgi units'
stop drop-ins. On a warm run each of those tasks costs Ansible a worker process and its
bookkeeping per host, about 0.05-0.1 s, for every service, even where the loop is empty.
This plugin does the same writes from one task: each file still goes through Ansible's own
``template``/``copy`` action or the ``lineinfile`` module, so check mode, diffs, owners and
modes behave as those do.

Arguments:
  node          this host's part of the service (filter service_on_host): its ini_files,
                template_files, line_edits and uwsgi lists.
  template_dir  the calling role's templates directory (template_files name files there).

Result: ``results``, one entry per file in the order written, shaped like a registered
loop's results ({item: {path, restarts, kind}, changed}) so that changed_units and the
changed-files list read it as before; ``diff`` (in diff mode): the changes of the files
that hold no secrets, and the paths of the changed ones that do. Files that hold secrets (every INI file, and templates marked secret) are written
with no_log, and nothing of their content or of their modules' answers is returned: a
failure names the path only.
"""
import os

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

# The drop-in that makes uwsgi units stop on SIGINT (config.yml says why). Byte for byte what
# community.general.ini_file wrote before this plugin (it starts a new file with a blank
# line), so that nodes deployed before it stay unchanged.
UWSGI_STOP_DROPIN = "\n[Service]\nKillSignal=SIGINT\n"
UWSGI_STOP_PATH = "/etc/systemd/system/%s.service.d/10-ostack-uwsgi-stop.conf"

_HERE = os.path.dirname(os.path.abspath(__file__))
_COMMON_TEMPLATES = os.path.join(os.path.dirname(_HERE), "templates")


def plan(node, template_dir, common_templates=_COMMON_TEMPLATES):
    """The writes for one host's part of a service, in order: a list of dicts with kind
    (template, lines, content), item (what the result reports: path, restarts) and the
    arguments of the action or module that does the write. Pure: no I/O."""
    if not isinstance(node, dict):
        raise AnsibleActionFail("openstack_common_files: node must be the dict service_on_host returns, got %s"
                                % type(node).__name__)
    missing = [k for k in ("ini_files", "template_files", "line_edits", "uwsgi") if k not in node]
    if missing:
        raise AnsibleActionFail("openstack_common_files: node lacks %s; pass service_on_host's result"
                                % ", ".join(missing))
    writes = []
    for f in node["ini_files"]:
        writes.append(dict(kind="template", secret=True, vars={"item": f},
                           item={"path": f["path"], "restarts": f["restarts"], "kind": "ini"},
                           args=dict(src=os.path.join(common_templates, "ini.j2"), dest=f["path"],
                                     owner=f.get("owner", "root"), group=f.get("group", "root"),
                                     mode=f.get("mode", "0640"))))
    for f in node["template_files"]:
        writes.append(dict(kind="template", secret=bool(f.get("secret", False)), vars={"item": f},
                           item={"path": f["path"], "restarts": f["restarts"], "kind": "template"},
                           args=dict(src=os.path.join(template_dir, f["template"]), dest=f["path"],
                                     owner=f.get("owner", "root"), group=f.get("group", "root"),
                                     mode=f.get("mode", "0644"))))
    for e in node["line_edits"]:
        args = dict(path=e["path"], line=e["line"], backrefs=bool(e.get("backrefs", False)))
        if e.get("regexp"):
            args["regexp"] = e["regexp"]
        writes.append(dict(kind="lines", secret=False, item={"path": e["path"], "restarts": e["restarts"],
                                                            "kind": "line", "line": e["line"]},
                           args=args))
    for b in node["uwsgi"]:
        writes.append(dict(kind="template", secret=False, vars={"item": b},
                           item={"path": b["path"], "restarts": b["restarts"], "kind": "uwsgi"},
                           args=dict(src=os.path.join(common_templates, "uwsgi-default.j2"), dest=b["path"],
                                     owner="root", group="root", mode="0644")))
    units = []
    for b in node["uwsgi"]:
        for unit in b["restarts"]:
            if unit not in units:
                units.append(unit)
    for unit in units:
        # A drop-in takes effect with systemd's next reload: no unit restarts for it.
        # Its directory too: a unit's drop-in directory does not exist on a fresh node.
        writes.append(dict(kind="content", secret=False,
                           item={"path": UWSGI_STOP_PATH % unit, "restarts": [], "kind": "dropin"},
                           directory=dict(path=os.path.dirname(UWSGI_STOP_PATH % unit), state="directory",
                                          owner="root", group="root", mode="0755"),
                           args=dict(content=UWSGI_STOP_DROPIN, dest=UWSGI_STOP_PATH % unit,
                                     owner="root", group="root", mode="0644")))
    return writes


def summary(write, answer, diff_mode=False):
    """What the task reports for one write: never content, diff or module answer of a secret
    file. In diff mode a changed secret file is named, its content hidden."""
    path = write["item"]["path"]
    entry = {"item": write["item"], "changed": bool(answer.get("changed")), "failed": bool(answer.get("failed"))}
    if entry["failed"]:
        entry["msg"] = ("writing %s failed (its answer is hidden: the file holds secrets)" % path
                        if write["secret"] else "%s: %s" % (path, answer.get("msg", "failed")))
    if write["secret"]:
        if diff_mode and entry["changed"]:
            entry["diff"] = {"prepared": "--- before: %s\n+++ after: %s\n(content not shown: the file holds secrets)\n"
                                         % (path, path)}
    elif answer.get("diff"):
        entry["diff"] = answer["diff"]
    return entry


class ActionModule(ActionBase):
    # The template and copy actions it calls make (and remove) their own remote tmp.
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("node", "template_dir"))

    def _action(self, name, write, task_vars):
        task = self._task.copy()
        task.args = dict(write["args"])
        if write["secret"]:
            task.no_log = True
            task.diff = False
        action = self._shared_loader_obj.action_loader.get(
            name, task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        # The template action extends ansible_search_path in place: give it its own copy.
        variables = dict(task_vars, **write.get("vars", {}))
        if "ansible_search_path" in variables:
            variables["ansible_search_path"] = list(variables["ansible_search_path"])
        return action.run(task_vars=variables)

    def _content(self, write, task_vars):
        """A file given by its content, in a directory made first if missing. In check mode a
        missing directory means a missing file: changed, and nothing to compare."""
        made = self._execute_module(module_name="ansible.legacy.file", module_args=dict(write["directory"]),
                                    task_vars=task_vars)
        if made.get("failed"):
            return made
        if made.get("changed") and self._task.check_mode:
            return {"changed": True}
        answer = self._action("ansible.legacy.copy", write, task_vars)
        answer["changed"] = bool(answer.get("changed") or made.get("changed"))
        return answer

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        writes = plan(self._task.args.get("node"), self._task.args.get("template_dir", ""))
        entries = []
        for write in writes:
            try:
                if write["kind"] == "template":
                    answer = self._action("ansible.legacy.template", write, task_vars)
                elif write["kind"] == "content":
                    answer = self._content(write, task_vars)
                else:
                    answer = self._execute_module(module_name="ansible.legacy.lineinfile",
                                                  module_args=dict(write["args"]), task_vars=task_vars)
            except AnsibleConnectionFailure:
                raise  # the host is unreachable: Ansible reports it so
            except Exception as e:  # an action raises for bad input (a missing template, say)
                if write["secret"]:
                    raise AnsibleActionFail("writing %s failed (the error is hidden: the file holds secrets)"
                                            % write["item"]["path"]) from None
                raise AnsibleActionFail("writing %s failed: %s" % (write["item"]["path"], e)) from e
            entries.append(summary(write, answer, bool(self._task.diff)))
            if entries[-1]["failed"]:
                break
        result["results"] = entries
        result["changed"] = any(e["changed"] for e in entries)
        diffs = [d for e in entries for d in (e["diff"] if isinstance(e.get("diff"), list) else [e.get("diff")]) if d]
        if diffs:
            result["diff"] = diffs
        failed = [e for e in entries if e["failed"]]
        if failed:
            result["failed"] = True
            result["msg"] = failed[0]["msg"]
        else:
            result["msg"] = "%d files, %d changed" % (len(entries), sum(e["changed"] for e in entries))
        return result
