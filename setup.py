"""Packaging for cpdgl: every field comes from settings.ini, the single source of project metadata."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
s = cfg['DEFAULT']

for key in 'version description keywords author author_email'.split():
    if key not in s: raise KeyError(f"settings.ini is missing the required key '{key}'")

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License'),
            'mit': ('MIT License', 'OSI Approved :: MIT License')}
lic = licenses.get(s['license'].lower(), (s['license'], None))
stages = '1 - Planning,2 - Pre-Alpha,3 - Alpha,4 - Beta,5 - Production/Stable'.split(',')
py_versions = '3.10 3.11 3.12 3.13'.split()
min_py = s.get('min_python', '3.10')

def split(key): return s.get(key, '').split()

requirements = split('requirements')
dev_requirements = split('dev_requirements')
# `console_scripts` holds `name=module:function` pairs separated by whitespace
console_scripts = split('console_scripts')

setuptools.setup(
    name=s['lib_name'], version=s['version'], description=s['description'],
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
    license=lic[0], author=s['author'], author_email=s['author_email'], keywords=s['keywords'],
    url=s['git_url'], packages=setuptools.find_packages(include=[s['lib_name'], s['lib_name'] + '.*']),
    include_package_data=True, package_data={s['lib_name']: ['assets/*']}, python_requires='>=' + min_py, zip_safe=False,
    classifiers=[f"Development Status :: {stages[int(s['status'])]}",
                 f"Intended Audience :: {s['audience'].title()}", 'Natural Language :: ' + s['language'].title()]
                + ([f'License :: {lic[1]}'] if lic[1] else [])
                + [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_py):]],
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    entry_points={'console_scripts': console_scripts, 'nbdev': [f"{s['lib_name']}={s['lib_name']}._modidx:d"]},
)
